"""Communications: status updates, stakeholder briefs, the public status page, reports."""

"""After the incident: post-mortems, action items, trackers, similar incidents and patterns."""

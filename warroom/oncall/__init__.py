"""On-call: people, teams, schedules, escalation policies, paging and durable escalation timers."""

"""Importers: people, teams, schedules, escalation policies and services from PagerDuty,
Opsgenie or Grafana OnCall, as a plan the CLI builds from the vendor's API (or saved responses)
and the server applies idempotently, matched by the vendor's ids."""

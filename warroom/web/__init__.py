"""The web UI: server-rendered pages (Jinja2 + vendored htmx), live updates over SSE, sessions."""

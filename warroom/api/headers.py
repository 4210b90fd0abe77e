"""The security headers every response carries (web pages, API answers, webhook answers)."""

from __future__ import annotations

CSP = (
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
    "connect-src 'self'; font-src 'self'; object-src 'none'; base-uri 'self'; "
    "form-action 'self'; frame-ancestors 'none'"
)
# The interactive API docs (Swagger UI, served locally) set inline styles; still no inline
# script and nothing from another origin.
DOCS_CSP = CSP.replace("style-src 'self'", "style-src 'self' 'unsafe-inline'")
DOCS_PATHS = ("/api/docs", "/api/openapi.json")

SECURITY_HEADERS: tuple[tuple[str, str], ...] = (
    ("X-Content-Type-Options", "nosniff"),
    ("X-Frame-Options", "DENY"),
    ("Referrer-Policy", "same-origin"),
    ("Cross-Origin-Opener-Policy", "same-origin"),
    ("Permissions-Policy", "camera=(), microphone=(), geolocation=()"),
)


def security_headers(path: str) -> tuple[tuple[str, str], ...]:
    """The headers for a response to `path`, its Content-Security-Policy included."""
    return (
        *SECURITY_HEADERS,
        ("Content-Security-Policy", DOCS_CSP if path.startswith(DOCS_PATHS) else CSP),
    )

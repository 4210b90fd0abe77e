"""Published post-mortems as files: Markdown (docs-as-code) and sanitised HTML."""

from __future__ import annotations

import html
import re

from warroom.core.markdown import render_markdown

_SAFE = re.compile(r"^INC-\d{8}-\d{3,}$")


def file_stem(public_id: str) -> str:
    """A stable file name for an incident's post-mortem (its public id)."""
    stem = public_id.strip().upper()
    if not _SAFE.match(stem):
        stem = re.sub(r"[^A-Za-z0-9_-]+", "-", stem).strip("-") or "postmortem"
    return stem


def to_html(markdown_text: str, title: str) -> str:
    """A standalone HTML page, rendered as the post-mortem page renders it (raw HTML in the
    source is escaped, the result sanitised)."""
    body = render_markdown(markdown_text)
    return (
        "<!doctype html>\n<html lang=en>\n<head>\n<meta charset=utf-8>\n"
        f"<title>{html.escape(title)}</title>\n"
        "<style>body{font-family:system-ui,sans-serif;max-width:60rem;margin:2rem auto;"
        "padding:0 1rem;line-height:1.5}table{border-collapse:collapse}"
        "td,th{border:1px solid #ccc;padding:.25rem .5rem;text-align:left}</style>\n"
        f"</head>\n<body>\n{body}</body>\n</html>\n"
    )


def index_markdown(entries: list[tuple[str, str, str]]) -> str:
    """An index of (public id, title, published date) rows."""
    lines = ["# Post-mortems", "", "| Incident | Title | Published |", "|---|---|---|"]
    for public_id, title, published in entries:
        safe_title = title.replace("|", "\\|")
        lines.append(f"| [{public_id}]({file_stem(public_id)}.md) | {safe_title} | {published} |")
    return "\n".join(lines) + "\n"

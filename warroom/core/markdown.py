"""User Markdown to safe HTML, the same everywhere (pages, post-mortem exports): markdown-it-py
renders (raw HTML off), nh3 sanitises."""

from __future__ import annotations

from functools import lru_cache

import nh3
from markdown_it import MarkdownIt
from markupsafe import Markup

_md = MarkdownIt("commonmark", {"html": False, "linkify": False, "breaks": True}).enable(
    ["table", "strikethrough"]
)
_TAGS = {
    "p", "br", "em", "strong", "del", "s", "code", "pre", "blockquote", "ul", "ol", "li",
    "a", "h1", "h2", "h3", "h4", "h5", "h6", "hr", "table", "thead", "tbody", "tr", "th", "td",
}  # fmt: skip


_cleaner = nh3.Cleaner(
    tags=_TAGS,
    attributes={"a": {"href", "title"}, "th": {"align"}, "td": {"align"}},
    url_schemes={"http", "https", "mailto"},
    link_rel="noopener noreferrer nofollow",
)


@lru_cache(maxsize=8192)
def render_markdown(text: str) -> Markup:
    """Markdown to HTML that carries no script, event handler, style or foreign scheme.

    Timeline text never changes once written, so renders are cached by text.
    """
    return Markup(_cleaner.clean(_md.render(text or "")))

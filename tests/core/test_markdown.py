"""One Markdown renderer: the post-mortem export renders a document as its page does."""

from __future__ import annotations

from warroom.core.markdown import render_markdown
from warroom.postmortems.exports import to_html

TEXT = "## Root cause\nPool size 5\nwas 50 ~~ok~~ [docs](https://example.com)\n\n<script>x</script>"


def test_the_export_embeds_exactly_what_the_page_renders() -> None:
    page = str(render_markdown(TEXT))
    assert page in to_html(TEXT, "INC-20261201-001")
    assert "<br>" in page and "<s>ok</s>" in page  # line breaks and strikethrough, both
    assert "<script>" not in page and "&lt;script&gt;" in page

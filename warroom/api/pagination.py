"""The one pagination rule of every list endpoint (see docs/api.md, "Lists and pages").

- `?limit=N`: items per page, 1..`MAX_LIMIT`, default `DEFAULT_LIMIT`; anything else is 422
  `invalid_input`.
- `?cursor=TOKEN`: where the page starts. The token is opaque: take it from the `Link` header
  (or the body's `next_cursor` where a list has one), never build it. A token that does not
  decode is 422 `invalid_input` and nothing else happens.
- The next page is advertised in an RFC 8288 header, `Link: </api/v1/...&cursor=...>;
  rel="next"`, absent on the last page. Bodies keep their shape (`{"items": [...]}` or an
  array), so a client that reads only the first page still works.
- Pages are keysets, not offsets: a cursor names the sort key and id of the last item shown, so
  items inserted meanwhile never shift a page (no duplicates, no misses of the items that were
  there). Long lists read `limit + 1` rows after the cursor from the database and cut them
  with `close_page`; short ones (people, routes, components) are read whole and cut here by
  key (`page_list`) or, for ranked and positional lists, after the last item (`page_in_order`).

Clients follow the links with `warroom.api.client.next_link` and `merge_page` (the CLI's
`call_all`, the agents' `Gateway.get_all`).
"""

from __future__ import annotations

import base64
import binascii
import json
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Annotated, TypeVar
from urllib.parse import quote

from fastapi import Query, Request, Response

from warroom.core.errors import InvalidInput
from warroom.core.inputs import MAX_ID, MAX_PAGE

DEFAULT_LIMIT = 100
MAX_LIMIT = MAX_PAGE

Limit = Annotated[
    int,
    Query(
        ge=1,
        le=MAX_LIMIT,
        description=f"items per page (1-{MAX_LIMIT}); the next page is in the Link header",
    ),
]
CursorToken = Annotated[
    str | None,
    Query(
        min_length=1,
        max_length=2048,
        description='opaque: the cursor of the Link rel="next" of the page before',
    ),
]

KeyPart = str | int
Key = tuple[KeyPart, ...]
T = TypeVar("T")


def _bad(token: str) -> InvalidInput:
    shown = token if len(token) <= 40 else token[:40] + "..."
    return InvalidInput(
        f'cursor: {shown!r} is not a cursor of this list; follow the Link rel="next" '
        "header of the page before (or leave cursor out for the first page)",
        details=[{"loc": ["query", "cursor"], "msg": "not a cursor of this list"}],
    )


@dataclass(frozen=True)
class Keyset:
    """How one list orders its items: `name` tags its cursors (a cursor of another list is
    refused), `parts` are the key's types ("int" or "str"), the last one unique (an id or a
    name); `descending` lists go from the largest key down.

    A key of one int part is written as that number ("42"), so the `next_cursor` integers that
    list bodies carried before this rule still work; other keys are URL-safe base64 JSON."""

    name: str
    parts: tuple[str, ...]
    descending: bool = False

    def encode(self, key: Key) -> str:
        if self.parts == ("int",):
            return str(key[0])
        raw = json.dumps([self.name, *key], separators=(",", ":")).encode()
        return base64.urlsafe_b64encode(raw).decode().rstrip("=")

    def decode(self, token: str | None) -> Key | None:
        if token is None:
            return None
        if self.parts == ("int",):
            if not token.isascii() or not token.isdigit() or not 1 <= int(token) <= MAX_ID:
                raise _bad(token)
            return (int(token),)
        try:
            data = json.loads(base64.urlsafe_b64decode(token + "=" * (-len(token) % 4)))
        except (binascii.Error, ValueError, UnicodeDecodeError, RecursionError):
            raise _bad(token) from None
        if (
            not isinstance(data, list)
            or len(data) != len(self.parts) + 1
            or data[0] != self.name
            or not all(_fits(v, p) for v, p in zip(data[1:], self.parts, strict=True))
        ):
            raise _bad(token)
        return tuple(data[1:])

    def refuse(self, token: str | None) -> InvalidInput:
        """The error for a cursor that decoded but names no place in this list."""
        return _bad(token or "")

    def after(self, item_key: Key, cursor: Key) -> bool:
        """Whether an item with `item_key` comes after the cursor in this list's order."""
        return item_key < cursor if self.descending else item_key > cursor


def _fits(value: object, part: str) -> bool:
    if part == "int":
        return isinstance(value, int) and not isinstance(value, bool) and abs(value) <= MAX_ID
    return isinstance(value, str) and len(value) <= 1000


def set_next_link(request: Request, response: Response, token: str | None) -> None:
    """Advertise the next page (RFC 8288) when there is one: same path and filters, new cursor."""
    if token is None:
        return
    params = [(k, v) for k, v in request.query_params.multi_items() if k != "cursor"]
    params.append(("cursor", token))
    query = "&".join(f"{_quote(k)}={_quote(v)}" for k, v in params)
    response.headers.append("Link", f'<{request.url.path}?{query}>; rel="next"')


def _quote(value: str) -> str:
    return quote(value, safe="")


def page_list(
    items: Sequence[T],
    keyset: Keyset,
    key: Callable[[T], Key],
    *,
    limit: int,
    cursor: str | None,
    request: Request,
    response: Response,
) -> list[T]:
    """One page of a list read whole, in `keyset` order, with the Link to the next page."""
    start = keyset.decode(cursor)
    ordered = sorted(items, key=key, reverse=keyset.descending)
    if start is not None:
        ordered = [item for item in ordered if keyset.after(key(item), start)]
    page = ordered[:limit]
    token = keyset.encode(key(page[-1])) if len(ordered) > limit and page else None
    set_next_link(request, response, token)
    return page


def page_in_order(
    items: Sequence[T],
    keyset: Keyset,
    uid: Callable[[T], str],
    *,
    limit: int,
    cursor: str | None,
    request: Request,
    response: Response,
) -> list[T]:
    """One page of a list whose order is computed (a ranking, the order rules are tried in):
    the cursor names the last item shown (`uid`) and its position; the next page starts after
    that item, or after that position when the item is gone."""
    start = keyset.decode(cursor)
    begin = 0
    if start is not None:
        position, last = start
        # The same item, or of equal ones the nearest to where it was; else where it was.
        found = [n for n, item in enumerate(items) if uid(item) == last] or [int(position)]
        begin = min(found, key=lambda n: abs(n - int(position))) + 1
    page = list(items[begin : begin + limit])
    more = begin + limit < len(items)
    token = keyset.encode((begin + len(page) - 1, uid(page[-1]))) if more and page else None
    set_next_link(request, response, token)
    return page


def close_page(
    rows: Sequence[T],
    keyset: Keyset,
    key: Callable[[T], Key],
    *,
    limit: int,
    request: Request,
    response: Response,
) -> tuple[list[T], str | None]:
    """Cut `limit + 1` rows read from the database after the cursor into a page and its Link."""
    page = list(rows[:limit])
    token = keyset.encode(key(page[-1])) if len(rows) > limit and page else None
    set_next_link(request, response, token)
    return page, token

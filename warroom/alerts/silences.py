"""Silences: label matchers that keep matching alerts from declaring or paging for a window.

A silenced alert is still stored and visible. Intake asks `active` for the silences in force at
`now`; they are read at most once a second (and at once after a change made here).
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from datetime import datetime
from typing import TYPE_CHECKING, Any

from sqlalchemy import bindparam, insert, select, update
from sqlalchemy.engine import Connection

from warroom.alerts import domain
from warroom.alerts import tables as t
from warroom.core.auth import Principal
from warroom.core.errors import InvalidInput, NotFound

if TYPE_CHECKING:
    from warroom.core.runtime import Runtime

SILENCE_CACHE_SECONDS = 1.0
ActiveSilences = list[tuple[int, list[domain.Matcher]]]


class SilenceService:
    """The only writer of silences."""

    def __init__(self, runtime: Runtime) -> None:
        self.db = runtime.db
        self.clock = runtime.clock
        self._silence_cache: (
            tuple[float, list[tuple[int, datetime, datetime, list[domain.Matcher]]]] | None
        ) = None

    def active(self, conn: Connection, now: datetime) -> ActiveSilences:
        """The silences in force at `now`, each with its parsed matchers."""
        cached = self._silence_cache
        if cached is None or cached[0] < time.monotonic():
            # Silences change rarely: read the ones not yet over once a second (and at once
            # after a change made here), then decide activity against `now` exactly.
            rows = conn.execute(_CURRENT_SILENCES, {"now": now}).all()
            parsed: list[tuple[int, datetime, datetime, list[domain.Matcher]]] = []
            for row in rows:
                try:
                    matchers = domain.parse_matchers(list(row.matchers))
                except InvalidInput:
                    continue
                parsed.append((int(row.id), row.starts_at, row.ends_at, matchers))
            cached = (time.monotonic() + SILENCE_CACHE_SECONDS, parsed)
            self._silence_cache = cached
        return [(sid, m) for sid, start, end, m in cached[1] if start <= now < end]

    def add(
        self,
        principal: Principal,
        *,
        matchers: Sequence[str],
        ends_at: datetime,
        comment: str,
        starts_at: datetime | None = None,
    ) -> dict[str, Any]:
        principal.require("responder")
        if not matchers:
            raise InvalidInput("a silence needs at least one matcher (e.g. service=payments)")
        if "\x00" in comment or any("\x00" in m for m in matchers):
            raise InvalidInput("a silence's matchers and comment cannot hold NUL characters")
        parsed = domain.parse_matchers(matchers)
        if all(m.matches({}) for m in parsed):
            raise InvalidInput("these matchers match every alert; add one that needs a label")
        if not comment.strip():
            raise InvalidInput("a silence needs a comment saying why")
        now = self.clock.now()
        start = starts_at or now
        if ends_at <= start:
            raise InvalidInput("a silence must end after it starts")
        if ends_at <= now:
            raise InvalidInput("a silence must end in the future")
        self._silence_cache = None
        with self.db.write() as conn:
            inserted = conn.execute(
                insert(t.alert_silences).values(
                    matchers=[str(m) for m in parsed],
                    starts_at=start,
                    ends_at=ends_at,
                    author=principal.actor,
                    comment=comment.strip(),
                    created_at=now,
                )
            )
            silence_id = int(inserted.inserted_primary_key[0])  # type: ignore[index]
        return self.get(silence_id)

    def expire(self, principal: Principal, silence_id: int) -> dict[str, Any]:
        principal.require("responder")
        now = self.clock.now()
        with self.db.write() as conn:
            s = t.alert_silences
            row = conn.execute(select(s.c.id, s.c.ends_at).where(s.c.id == silence_id)).first()
            if row is None:
                raise NotFound(f"no silence {silence_id}")
            self._silence_cache = None
            conn.execute(
                update(s)
                .where(s.c.id == silence_id, s.c.expired_at.is_(None))
                .values(expired_at=now, ends_at=min(row.ends_at, now))
            )
        return self.get(silence_id)

    def get(self, silence_id: int) -> dict[str, Any]:
        with self.db.read() as conn:
            row = conn.execute(
                select(t.alert_silences).where(t.alert_silences.c.id == silence_id)
            ).first()
        if row is None:
            raise NotFound(f"no silence {silence_id}")
        return silence_dict(row, self.clock.now())

    def list_silences(self, *, include_expired: bool = False) -> list[dict[str, Any]]:
        s = t.alert_silences
        now = self.clock.now()
        query = select(s).order_by(s.c.id.desc()).limit(500)
        if not include_expired:
            query = query.where(s.c.ends_at > now, s.c.expired_at.is_(None))
        with self.db.read() as conn:
            rows = conn.execute(query).all()
        return [silence_dict(r, now) for r in rows]


_S = t.alert_silences
_CURRENT_SILENCES = select(_S.c.id, _S.c.matchers, _S.c.starts_at, _S.c.ends_at).where(
    _S.c.ends_at > bindparam("now"), _S.c.expired_at.is_(None)
)


def silence_dict(row: Any, now: datetime) -> dict[str, Any]:
    if row.expired_at is not None or row.ends_at <= now:
        state = "expired"
    elif row.starts_at > now:
        state = "pending"
    else:
        state = "active"
    return {
        "id": row.id,
        "matchers": list(row.matchers),
        "starts_at": row.starts_at,
        "ends_at": row.ends_at,
        "author": row.author,
        "comment": row.comment,
        "created_at": row.created_at,
        "expired_at": row.expired_at,
        "state": state,
    }

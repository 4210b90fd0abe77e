"""Similar past incidents, each with the reasons it matched.

`score` is pure: two feature sets in, a score and human reasons out (same service, same alert
fingerprint, shared labels, same change kind, similar title/summary/root-cause text). The
`SimilarityIndex` keeps inverted postings so a lookup only scores incidents that share at least
one service, fingerprint, label, change kind or distinctive word; `SimilarityService` keeps an
index per process, refreshed incrementally from the database (rows updated since the last look).
"""

from __future__ import annotations

import heapq
import math
import re
import threading
import time
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.engine import Connection

from warroom.core import tables
from warroom.core.clock import Clock
from warroom.core.db import Database
from warroom.core.errors import NotFound
from warroom.postmortems.draft import written_root_cause
from warroom.postmortems.tables import action_items, postmortems

WEIGHTS = {
    "service": 3.0,
    "fingerprint": 4.0,
    "label": 0.75,
    "label_cap": 2.0,
    "change": 1.5,
    "text": 4.0,
}
MIN_SCORE = 1.0
# Alert labels that identify one replica rather than the kind of failure.
_VOLATILE_LABELS = frozenset({"instance", "pod", "container", "endpoint", "node", "id"})
MIN_TEXT = 0.12
# Re-read a few events before the watermark: on PostgreSQL ids can commit out of order.
_OVERLAP = 100

_WORD = re.compile(r"[a-z0-9][a-z0-9_-]{2,}")
STOP_WORDS = frozenset(
    [
        "the",
        "and",
        "for",
        "with",
        "from",
        "that",
        "this",
        "was",
        "were",
        "are",
        "has",
        "have",
        "had",
        "not",
        "but",
        "all",
        "any",
        "can",
        "our",
        "out",
        "into",
        "onto",
        "when",
        "then",
        "than",
        "after",
        "before",
        "over",
        "under",
        "about",
        "more",
        "most",
        "less",
        "some",
        "such",
        "only",
        "also",
        "its",
        "it's",
        "via",
        "per",
        "due",
        "get",
        "got",
        "use",
        "used",
        "using",
        "being",
        "been",
        "there",
        "their",
        "they",
        "them",
        "what",
        "which",
        "who",
        "why",
        "how",
        "again",
        "still",
        "very",
        "just",
        "each",
        "other",
        "incident",
        "issue",
        "problem",
        "users",
        "user",
    ]
)


def tokens(*texts: str) -> frozenset[str]:
    """Lower-case words of 3+ characters, minus stop words."""
    words: set[str] = set()
    for text in texts:
        for word in _WORD.findall(text.lower()):
            if word not in STOP_WORDS:
                words.add(word)
    return frozenset(words)


@dataclass(frozen=True)
class Features:
    """What an incident is compared on."""

    services: frozenset[str] = frozenset()
    fingerprints: frozenset[str] = frozenset()
    labels: frozenset[str] = frozenset()  # "key=value"
    change_kinds: frozenset[str] = frozenset()
    words: frozenset[str] = frozenset()

    @staticmethod
    def of(
        *,
        services: Iterable[str] = (),
        fingerprints: Iterable[str] = (),
        labels: Mapping[str, Any] | Iterable[str] = (),
        change_kinds: Iterable[str] = (),
        title: str = "",
        summary: str = "",
        root_cause: str = "",
    ) -> Features:
        label_set = (
            frozenset(f"{k}={v}" for k, v in labels.items())
            if isinstance(labels, Mapping)
            else frozenset(labels)
        )
        return Features(
            services=frozenset(services),
            fingerprints=frozenset(fingerprints),
            labels=label_set,
            change_kinds=frozenset(change_kinds),
            words=tokens(title, summary, root_cause),
        )


@dataclass(frozen=True)
class Match:
    score: float
    reasons: list[str] = field(default_factory=list)


def _list(values: Iterable[str], limit: int = 5) -> str:
    items = sorted(values)
    text = ", ".join(items[:limit])
    return text + (f" (+{len(items) - limit})" if len(items) > limit else "")


def score(query: Features, other: Features, idf: Mapping[str, float] | None = None) -> Match:
    """How alike two incidents are, and why (pure). `idf` weighs rare words more."""
    total = 0.0
    reasons: list[str] = []
    services = query.services & other.services
    if services:
        total += WEIGHTS["service"]
        reasons.append(f"same service: {_list(services)}")
    fingerprints = query.fingerprints & other.fingerprints
    if fingerprints:
        total += WEIGHTS["fingerprint"]
        reasons.append(f"same alert fingerprint: {_list(fingerprints)}")
    labels = query.labels & other.labels
    if labels:
        total += min(WEIGHTS["label"] * len(labels), WEIGHTS["label_cap"])
        reasons.append(f"shared labels: {_list(labels)}")
    changes = query.change_kinds & other.change_kinds
    if changes:
        total += WEIGHTS["change"]
        reasons.append(f"same change kind: {_list(changes)}")
    if query.words and other.words:
        shared = query.words & other.words
        if shared:

            def weight(word: str) -> float:
                return idf.get(word, 1.0) if idf else 1.0

            union = query.words | other.words
            similarity = sum(weight(w) for w in shared) / sum(weight(w) for w in union)
            if similarity >= MIN_TEXT:
                total += WEIGHTS["text"] * similarity
                top = sorted(shared, key=lambda w: (-weight(w), w))[:5]
                reasons.append(f"similar text ({similarity:.2f}): {', '.join(top)}")
    return Match(round(total, 3), reasons)


class SimilarityIndex:
    """Inverted postings over incident features; lookups score only plausible candidates."""

    def __init__(self) -> None:
        self.features: dict[int, Features] = {}
        self.postings: dict[str, set[int]] = {}
        self._idf_cache: dict[str, float] = {}
        self._idf_size = 0

    @staticmethod
    def _terms(f: Features) -> Iterable[str]:
        yield from (f"s:{x}" for x in f.services)
        yield from (f"f:{x}" for x in f.fingerprints)
        yield from (f"l:{x}" for x in f.labels)
        yield from (f"c:{x}" for x in f.change_kinds)
        yield from (f"w:{x}" for x in f.words)

    def put(self, key: int, features: Features) -> None:
        self.remove(key)
        self.features[key] = features
        for term in self._terms(features):
            self.postings.setdefault(term, set()).add(key)

    def remove(self, key: int) -> None:
        old = self.features.pop(key, None)
        if old is None:
            return
        for term in self._terms(old):
            posting = self.postings.get(term)
            if posting is not None:
                posting.discard(key)
                if not posting:
                    del self.postings[term]

    def __len__(self) -> int:
        return len(self.features)

    def idf(self, word: str) -> float:
        df = len(self.postings.get(f"w:{word}", ()))
        return math.log((1 + len(self.features)) / (1 + df)) + 1.0

    def lookup(
        self, query: Features, *, limit: int = 5, exclude: int | None = None
    ) -> list[tuple[int, Match]]:
        """The best `limit` matches (score ≥ MIN_SCORE), best first."""
        # Rare terms nominate all their incidents; a common service or fingerprint nominates
        # only its most recent incidents (higher id = newer); common words, labels and change
        # kinds nominate nobody (they still count in the score of nominated candidates).
        common = max(200, min(500, len(self.features) // 100))
        candidates: set[int] = set()
        for term in self._terms(query):
            posting = self.postings.get(term)
            if not posting:
                continue
            if len(posting) <= common:
                candidates |= posting
            elif term[0] in "sf":
                candidates.update(heapq.nlargest(common, posting))
        candidates.discard(exclude if exclude is not None else -1)
        size = len(self.features)
        if abs(size - self._idf_size) > size // 100:
            self._idf_cache = {}  # document frequencies drift as the index grows
            self._idf_size = size
        idf = self._idf_cache

        def weight(word: str) -> float:
            value = idf.get(word)
            if value is None:
                value = idf[word] = self.idf(word)
            return value

        query_text = sum(weight(w) for w in query.words)
        ranked: list[tuple[float, int]] = []
        for key in candidates:
            other = self.features[key]
            total = 0.0
            if query.services & other.services:
                total += WEIGHTS["service"]
            if query.fingerprints & other.fingerprints:
                total += WEIGHTS["fingerprint"]
            labels = len(query.labels & other.labels)
            if labels:
                total += min(WEIGHTS["label"] * labels, WEIGHTS["label_cap"])
            if query.change_kinds & other.change_kinds:
                total += WEIGHTS["change"]
            shared = query.words & other.words
            if shared:
                union = query_text + sum(weight(w) for w in other.words - shared)
                similarity = sum(idf[w] for w in shared) / union
                if similarity >= MIN_TEXT:
                    total += WEIGHTS["text"] * similarity
            if total >= MIN_SCORE:
                ranked.append((total, key))
        top = heapq.nlargest(limit, ranked)
        # Reasons only for the few shown (the same arithmetic as the fast loop above).
        best = [(0.0, -key, score(query, self.features[key], idf)) for _, key in top]
        return [(-neg, match) for _, neg, match in best]


def _change_kind(data: Mapping[str, Any]) -> str:
    return str(data.get("kind") or data.get("change_kind") or data.get("type") or "deploy")


SUGGESTION_LAG = 1.0  # seconds the index may lag behind for timeline suggestions


class SimilarityService:
    """Similar-incident look-ups backed by an in-process index refreshed from the database."""

    def __init__(self, db: Database, clock: Clock) -> None:
        self.db = db
        self.clock = clock
        self.index = SimilarityIndex()
        self._lock = threading.Lock()
        self._last_event_id: int | None = None
        # Event ids near the watermark already indexed: the overlap re-read only re-indexes
        # incidents with events not seen before (under steady intake, a handful, not ~100).
        self._recent_events: set[int] = set()
        self._warming: threading.Thread | None = None
        self._postmortems_seen: datetime | None = None
        self._public: dict[int, str] = {}
        self._by_public: dict[str, int] = {}
        self._refreshed_at = 0.0  # time.monotonic() of the last refresh

    def ready(self, sync_limit: int = 5000) -> bool:
        """True once the index is built. A small database is indexed right away; a large one
        in a background thread (callers that must answer, like the API, just wait for it)."""
        if self._last_event_id is not None:
            return True
        with self.db.read() as conn:
            count = conn.execute(select(func.count()).select_from(tables.incidents)).scalar_one()
        if count <= sync_limit:
            self.refresh()
            return True
        if self._warming is None:
            self._warming = threading.Thread(
                target=self.refresh, name="warroom-similarity-index", daemon=True
            )
            self._warming.start()
        return False

    def refresh(self) -> int:
        """Load incidents changed since the last refresh; returns how many were (re)indexed."""
        with self._lock, self.db.read() as conn:
            return self._refresh(conn)

    def _refresh(self, conn: Connection) -> int:
        """Every incident change appends an event, so the event id is the watermark (an
        O(1) max on the primary key); post-mortem edits are found by their indexed updated_at."""
        i, e, p = tables.incidents, tables.events, postmortems
        full = self._last_event_id is None
        marks = conn.execute(
            select(
                select(func.max(e.c.id)).scalar_subquery(),
                select(func.max(p.c.updated_at)).scalar_subquery(),
            )
        ).one()
        self._refreshed_at = time.monotonic()
        last_event = int(marks[0] or 0)
        last_pm = marks[1]
        if last_pm is not None and not isinstance(last_pm, datetime):
            last_pm = conn.execute(select(func.max(p.c.updated_at))).scalar()  # SQLite text
        ids: set[int] | None = None
        recent: set[int] = set()
        if full:
            recent = set(
                conn.execute(select(e.c.id).where(e.c.id > last_event - _OVERLAP)).scalars()
            )
        else:
            ids = set()
            if last_event > (self._last_event_id or 0):
                rows = conn.execute(
                    select(e.c.id, e.c.incident_id).where(
                        e.c.id > (self._last_event_id or 0) - _OVERLAP
                    )
                ).all()
                ids |= {int(r.incident_id) for r in rows if r.id not in self._recent_events}
                recent = {int(r.id) for r in rows}
            else:
                recent = self._recent_events
            if last_pm is not None and (
                self._postmortems_seen is None or last_pm > self._postmortems_seen
            ):
                query = select(p.c.incident_id)
                if self._postmortems_seen is not None:
                    query = query.where(p.c.updated_at > self._postmortems_seen)
                ids |= set(conn.execute(query).scalars())
            if not ids:
                self._last_event_id = max(last_event, self._last_event_id or 0)
                self._recent_events = {n for n in recent if n > last_event - _OVERLAP}
                return 0
        columns = (i.c.id, i.c.public_id, i.c.title, i.c.summary, i.c.services, i.c.labels)
        incident_query = select(*columns)
        event_query = select(e.c.incident_id, e.c.type, e.c.data).where(
            e.c.type.in_(("alert_attached", "deploy_correlated"))
        )
        body_query = select(p.c.incident_id, p.c.body)
        if ids is not None:
            incident_query = incident_query.where(i.c.id.in_(ids))
            event_query = event_query.where(e.c.incident_id.in_(ids))
            body_query = body_query.where(p.c.incident_id.in_(ids))
        changed = conn.execute(incident_query).all()
        fingerprints: dict[int, set[str]] = {}
        alert_labels: dict[int, set[str]] = {}
        kinds: dict[int, set[str]] = {}
        for ev in conn.execute(event_query).all():
            if ev.type == "alert_attached":
                if ev.data.get("fingerprint"):
                    fingerprints.setdefault(ev.incident_id, set()).add(str(ev.data["fingerprint"]))
                for k, v in (ev.data.get("labels") or {}).items():
                    if k in _VOLATILE_LABELS:
                        continue
                    alert_labels.setdefault(ev.incident_id, set()).add(f"{k}={v}")
            else:
                kinds.setdefault(ev.incident_id, set()).add(_change_kind(ev.data))
        root_causes: dict[int, str] = {}
        for pm_row in conn.execute(body_query).all():
            root_causes[pm_row.incident_id] = written_root_cause(pm_row.body)
        for r in changed:
            key = int(r.id)
            labels = {f"{k}={v}" for k, v in (r.labels or {}).items()} | alert_labels.get(
                key, set()
            )
            self.index.put(
                key,
                Features.of(
                    services=r.services or (),
                    fingerprints=fingerprints.get(key, ()),
                    labels=labels,
                    change_kinds=kinds.get(key, ()),
                    title=r.title,
                    summary=r.summary or "",
                    root_cause=root_causes.get(key, ""),
                ),
            )
            self._public[key] = r.public_id
            self._by_public[r.public_id] = key
        self._last_event_id = last_event
        self._recent_events = {n for n in recent if n > last_event - _OVERLAP}
        if last_pm is not None:
            self._postmortems_seen = last_pm
        return len(changed)

    def similar(self, public_id: str, *, limit: int = 5) -> list[dict[str, Any]]:
        """Past incidents like this one, best first, with reasons and their action items."""
        with self._lock:  # one thread changes or reads the index at a time
            with self.db.read() as conn:
                self._refresh(conn)
            key = self._by_public.get(public_id.strip().upper())
            if key is None:
                raise NotFound(f"no incident {public_id}")
            found = self.index.lookup(self.index.features[key], limit=limit, exclude=key)
        return self._results(found)

    def suggestions(self, public_id: str, *, limit: int = 3) -> list[dict[str, Any]]:
        """The best matches as the timeline records them (incident, score, reasons): from the
        index alone, without the detail `similar` reads (cheap enough for an alert storm)."""
        public_id = public_id.strip().upper()
        with self._lock:
            key = self._by_public.get(public_id)
            # A new incident is not indexed yet: refresh. Otherwise the index may lag by up to
            # `SUGGESTION_LAG` (an alert storm would else refresh it once per incident).
            if key is None or time.monotonic() - self._refreshed_at > SUGGESTION_LAG:
                with self.db.read() as conn:
                    self._refresh(conn)
                key = self._by_public.get(public_id)
            if key is None:
                raise NotFound(f"no incident {public_id}")
            found = self.index.lookup(self.index.features[key], limit=limit, exclude=key)
            return [
                {"incident": self._public[other], "score": match.score, "reasons": match.reasons}
                for other, match in found
            ]

    def similar_to(self, query: Features, *, limit: int = 5) -> list[dict[str, Any]]:
        """Past incidents like a description (before declaring, or from triage answers)."""
        with self._lock:
            with self.db.read() as conn:
                self._refresh(conn)
            found = self.index.lookup(query, limit=limit)
        return self._results(found)

    def _results(self, found: list[tuple[int, Match]]) -> list[dict[str, Any]]:
        if not found:
            return []
        ids = [key for key, _ in found]
        i, a, p = tables.incidents, action_items, postmortems
        with self.db.read() as conn:
            rows = {
                r.id: r
                for r in conn.execute(
                    select(
                        i.c.id,
                        i.c.public_id,
                        i.c.title,
                        i.c.severity,
                        i.c.status,
                        i.c.declared_at,
                        i.c.resolved_at,
                        p.c.status.label("pm_status"),
                        p.c.root_cause_category,
                    )
                    .outerjoin(p, p.c.incident_id == i.c.id)
                    .where(i.c.id.in_(ids))
                ).all()
            }
            items: dict[int, list[dict[str, Any]]] = {}
            for r in conn.execute(
                select(a.c.id, a.c.incident_id, a.c.title, a.c.status, a.c.owner)
                .where(a.c.incident_id.in_(ids))
                .order_by(a.c.id)
            ).all():
                items.setdefault(r.incident_id, []).append(
                    {
                        "id": r.id,
                        "title": r.title,
                        "status": r.status,
                        "owner": r.owner,
                        "done": r.status == "done",
                    }
                )
        results = []
        for key, match in found:
            row = rows.get(key)
            if row is None:
                continue
            results.append(
                {
                    "incident": row.public_id,
                    "title": row.title,
                    "severity": row.severity,
                    "status": row.status,
                    "declared_at": row.declared_at.isoformat(),
                    "resolved_at": row.resolved_at.isoformat() if row.resolved_at else None,
                    "score": match.score,
                    "reasons": match.reasons,
                    "postmortem": (
                        {"status": row.pm_status, "root_cause_category": row.root_cause_category}
                        if row.pm_status
                        else None
                    ),
                    "action_items": items.get(key, []),
                    "action_items_done": sum(1 for x in items.get(key, []) if x["done"]),
                }
            )
        return results

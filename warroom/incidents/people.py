"""Who an authenticated actor is, compared with the names people type (roles, authors)."""

from __future__ import annotations

# A person's token and web session record them as `token:<name>` and `user:<name>`; an agent
# stays `agent:<name>` (never the same as a person of that name).
_PERSON_PREFIXES = ("token:", "user:")


def person_of(actor: str) -> str:
    """The person's name behind an actor (`token:bob` and `user:bob` are `bob`)."""
    text = actor.strip()
    for prefix in _PERSON_PREFIXES:
        if text.startswith(prefix):
            return text[len(prefix) :]
    return text


def same_person(name: str, actor: str) -> bool:
    """Whether a typed name (a role holder, a hotfix author) is this authenticated actor."""
    typed = name.strip().casefold()
    return bool(typed) and typed in {actor.strip().casefold(), person_of(actor).casefold()}

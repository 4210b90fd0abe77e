"""Who an authenticated actor is, compared with the names people type (roles, authors)."""

from __future__ import annotations

# One identity per person (`token:bob`, `user:bob` and `bob` are bob): see warroom.core.actors.
from warroom.core.actors import person_of

__all__ = ["person_of", "same_person"]


def same_person(name: str, actor: str) -> bool:
    """Whether a typed name (a role holder, a hotfix author) is this authenticated actor."""
    typed = name.strip().casefold()
    return bool(typed) and typed in {actor.strip().casefold(), person_of(actor).casefold()}

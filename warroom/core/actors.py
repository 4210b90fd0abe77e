"""Who acted, said one way everywhere (timeline, post-mortem, audit log, tables).

An actor is recorded as a string: a web session `user:bob`, an API token `token:bob`, the local
CLI's user `bob` (or `root`), an agent `agent:triage`, warroom itself `warroom`. The first three
are the same person, bob: `person_of` gives the one identity, `actor_name` shows it (their
display name when the directory knows one). Agents stay agents, marked as such, and are never
the same as a person of that name.
"""

from __future__ import annotations

from collections.abc import Mapping

SYSTEM_ACTORS = frozenset({"warroom", "system"})
# A person's token and web session record them as `token:<name>` and `user:<name>`.
PERSON_PREFIXES = ("token:", "user:")
AGENT_PREFIX = "agent:"


def person_of(actor: str) -> str:
    """The person's name behind an actor (`token:bob` and `user:bob` are `bob`)."""
    text = actor.strip()
    for prefix in PERSON_PREFIXES:
        if text.startswith(prefix):
            return text[len(prefix) :]
    return text


def is_agent(actor: str) -> bool:
    return actor.strip().startswith(AGENT_PREFIX)


def is_system(actor: str) -> bool:
    return not actor.strip() or actor.strip() in SYSTEM_ACTORS


def identity(actor: str) -> str:
    """One key per person (case-insensitive); agents keep their `agent:` prefix."""
    text = actor.strip()
    if is_agent(text):
        return text.casefold()
    return person_of(text).casefold()


def actor_name(actor: str, display_names: Mapping[str, str] | None = None) -> str:
    """How an actor is shown: a person by their display name (else their name), an agent as
    `name (assistant)`, warroom as `warroom (automatic)`."""
    text = (actor or "").strip()
    if is_system(text):
        return "warroom (automatic)" if text != "system" else "system (automatic)"
    if is_agent(text):
        return f"{text[len(AGENT_PREFIX) :]} (assistant)"
    if text.startswith("token:") and text[len("token:") :].isdigit():
        return f"API token #{text[len('token:') :]}"  # an audit target: the token's id
    name = person_of(text)
    kind, sep, rest = name.partition(":")
    if sep and kind and rest and " " not in kind:
        return f"{rest} ({kind})"  # another kind of caller (e.g. `chat:...`), said as such
    if display_names:
        shown = display_names.get(name) or display_names.get(name.casefold())
        if shown:
            return shown
    return name


def unique_people(actors: list[str]) -> list[str]:
    """The actors with each person once (first spelling kept), system actors left out."""
    seen: set[str] = set()
    out: list[str] = []
    for actor in actors:
        if is_system(actor):
            continue
        key = identity(actor)
        if key and key not in seen:
            seen.add(key)
            out.append(actor)
    return out

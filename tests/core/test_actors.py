"""One identity per person, shown one way (warroom.core.actors)."""

from __future__ import annotations

from warroom.core.actors import actor_name, identity, person_of, unique_people


def test_a_person_is_one_identity_whatever_recorded_them() -> None:
    assert person_of("user:bob") == person_of("token:bob") == person_of("bob") == "bob"
    assert identity("user:Bob") == identity("bob") == identity("token:bob") == "bob"
    assert identity("agent:bob") != identity("bob")  # an agent is never the person
    assert unique_people(["user:bob", "bob", "token:bob", "warroom", "agent:bob", "root"]) == [
        "user:bob",
        "agent:bob",
        "root",
    ]


def test_shown_by_display_name_agents_and_warroom_marked() -> None:
    names = {"bob": "Bob Okafor"}
    for actor in ("user:bob", "bob", "token:bob"):
        assert actor_name(actor, names) == "Bob Okafor"
        assert actor_name(actor) == "bob"
    assert actor_name("root", names) == "root"
    assert actor_name("agent:scribe", names) == "scribe (assistant)"
    assert actor_name("warroom") == actor_name("") == "warroom (automatic)"
    assert actor_name("token:12") == "API token #12"  # an audit target: a token's id
    assert actor_name("chat:matrix") == "matrix (chat)"

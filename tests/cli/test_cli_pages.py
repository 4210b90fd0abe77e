"""CLI list commands read every page of a list (the API pages by `Link` headers)."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.support.cli import use_local_database, wr, wr_json
from warroom.api import pagination
from warroom.cli.client import Client


@pytest.fixture
def cli_env(monkeypatch: pytest.MonkeyPatch, tmp_path: Path, database_url: str) -> Path:
    return use_local_database(monkeypatch, tmp_path, database_url)


def test_call_all_follows_the_links_to_the_last_page(cli_env: Path) -> None:
    for n in range(5):
        wr_json("declare", f"Checkout failing {n}", "--severity", "SEV3")
    client = Client.local()
    try:
        first = client.call("GET", "/api/v1/incidents", params={"limit": 2})
        assert len(first["items"]) == 2 and first["next_cursor"] is not None
        whole = client.call_all("/api/v1/incidents", params={"limit": 2})
        titles = [i["title"] for i in whole["items"]]
        assert titles == [f"Checkout failing {n}" for n in (4, 3, 2, 1, 0)]
        assert whole["next_cursor"] is None
        assert len(client.call_all("/api/v1/incidents", params={"limit": 2}, most=3)["items"]) == 3
        # more than one page can hold is paged, not refused
        big = client.call_all("/api/v1/incidents", params={"limit": pagination.MAX_LIMIT + 500})
        assert len(big["items"]) == 5
    finally:
        client.close()


def test_list_commands_show_more_than_one_page(cli_env: Path) -> None:
    names = [f"p{n:03}" for n in range(pagination.DEFAULT_LIMIT + 5)]
    client = Client.local()
    try:
        for name in names:
            client.call("POST", "/api/v1/oncall/people", json={"name": name})
        page = client.call("GET", "/api/v1/oncall/people")
        assert len(page["items"]) == pagination.DEFAULT_LIMIT  # one page is not all of them
    finally:
        client.close()
    listed = wr_json("oncall", "person", "list")
    assert [p["name"] for p in listed["items"]] == names
    for n in range(3):
        wr_json("declare", f"Search slow {n}", "--severity", "SEV3")
    shown = wr("list", "--limit", "2")
    assert shown.exit_code == 0, shown.output
    assert "Search slow 2" in shown.output and "Search slow 0" not in shown.output
    assert len(wr_json("list", "--limit", "5000")["items"]) == 3

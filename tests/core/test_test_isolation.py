"""The suite's PostgreSQL reset (`truncate_all`) leaves what truncating every table would:
no rows anywhere, and every id starting again at 1, even one only a rolled-back insert moved."""

from __future__ import annotations

from pathlib import Path

import pytest
from sqlalchemy import text

from tests.conftest import truncate_all
from warroom.core.auth import SYSTEM
from warroom.core.db import null_pool_engine
from warroom.core.runtime import Runtime
from warroom.core.settings import Settings
from warroom.incidents import schemas

ROWS = """
SELECT relname FROM pg_class
WHERE relkind = 'r' AND relnamespace = current_schema()::regnamespace
    AND relname <> 'alembic_version'
"""
SEQUENCES = "SELECT sequencename, last_value FROM pg_sequences WHERE schemaname = current_schema()"


@pytest.mark.postgres
def test_truncate_all_empties_every_table_and_restarts_every_id(
    postgres_url: str, tmp_path: Path
) -> None:
    truncate_all(postgres_url)
    runtime = Runtime.build(
        Settings(data_dir=tmp_path / "data", database_url=postgres_url, config=None),
        run_migrations=False,
    )
    try:
        for n in range(3):
            runtime.incidents.declare(SYSTEM, schemas.DeclareIn(title=f"n{n}", severity="SEV3"))
    finally:
        runtime.close()
    engine = null_pool_engine(postgres_url)
    try:
        with engine.connect() as conn:
            # An id taken by an insert that was rolled back: its table stays empty.
            with conn.begin() as transaction:
                conn.execute(text("SELECT nextval('oncall_people_id_seq')"))
                transaction.rollback()
            used = dict(conn.execute(text(SEQUENCES)).all())
        assert used["incidents_id_seq"] == 3 and used["oncall_people_id_seq"] == 1

        truncate_all(postgres_url)

        with engine.connect() as conn:
            names = conn.execute(text(ROWS)).scalars().all()
            assert len(names) > 40
            filled = [
                n for n in names if conn.execute(text(f'SELECT count(*) FROM "{n}"')).scalar()
            ]
            assert filled == []
            assert {name: last for name, last in conn.execute(text(SEQUENCES)) if last} == {}
            assert conn.execute(text("SELECT nextval('incidents_id_seq')")).scalar() == 1
    finally:
        engine.dispose()
        truncate_all(postgres_url)

"""Online, consistent backups and restores of the warroom database.

SQLite uses the backup API (a consistent snapshot while the server keeps writing); restoring
copies the backup into the live file through the same API, so open connections see the
restored data. PostgreSQL uses `pg_dump --format=custom` / `pg_restore --clean`.
"""

from __future__ import annotations

import os
import shutil
import sqlite3
import subprocess
from pathlib import Path

from sqlalchemy.engine import make_url

from warroom.core.db import sqlite_file
from warroom.core.errors import InvalidInput, WarroomError

_SQLITE_MAGIC = b"SQLite format 3\x00"
_PGDUMP_MAGIC = b"PGDMP"


def _sqlite_path(url: str) -> Path:
    found = sqlite_file(url)
    if found is None:
        raise InvalidInput("the SQLite URL names no file")
    return found


def _libpq_args(url: str) -> tuple[list[str], dict[str, str]]:
    parsed = make_url(url)
    args = ["--dbname", str(parsed.database or "postgres")]
    if parsed.host:
        args += ["--host", str(parsed.host)]
    if parsed.port:
        args += ["--port", str(parsed.port)]
    if parsed.username:
        args += ["--username", str(parsed.username)]
    # The password goes through the environment, never the command line (visible in ps).
    env = {"PGPASSWORD": str(parsed.password)} if parsed.password else {}
    return args, env


def _tool(name: str) -> str:
    path = shutil.which(name)
    if path is None:
        raise WarroomError(
            f"{name} is not installed; install the PostgreSQL client tools "
            "(e.g. apt-get install postgresql-client) to back up PostgreSQL",
            code="tool_missing",
        )
    return path


def backup(url: str, target: Path) -> int:
    """Write a consistent backup of the database at `url` to `target`; return its size."""
    target.parent.mkdir(parents=True, exist_ok=True)
    _create_owner_only(target)
    try:
        if url.startswith("sqlite"):
            source = sqlite3.connect(_sqlite_path(url))
            dest = sqlite3.connect(target)
            try:
                source.backup(dest)
            finally:
                dest.close()
                source.close()
        else:
            args, env = _libpq_args(url)
            command = [_tool("pg_dump"), "--format=custom", "--no-owner", "--file", str(target)]
            _run([*command, *args], env)
    except BaseException:
        target.unlink(missing_ok=True)  # a half-written backup must not pass for one
        raise
    return target.stat().st_size


def _create_owner_only(target: Path) -> None:
    """Create `target` empty and owner-only before a byte of the backup is written: SQLite gives
    its journal the database file's mode, and pg_dump keeps the mode of a file it truncates."""
    try:
        fd = os.open(target, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        raise InvalidInput(
            f"{target} exists; choose a new file (backups never overwrite)"
        ) from None
    os.fchmod(fd, 0o600)  # the umask may have taken bits away, never added: make it exact
    os.close(fd)


def restore(url: str, source: Path) -> None:
    """Replace the database's contents with the backup in `source`."""
    if not source.is_file():
        raise InvalidInput(f"no backup file {source}")
    head = source.read_bytes()[:16]
    if url.startswith("sqlite"):
        if not head.startswith(_SQLITE_MAGIC):
            raise InvalidInput(f"{source} is not a SQLite backup")
        backup_db = sqlite3.connect(f"file:{source}?mode=ro", uri=True)
        live = sqlite3.connect(_sqlite_path(url), timeout=30)
        try:
            backup_db.backup(live)
        finally:
            live.close()
            backup_db.close()
        return
    if not head.startswith(_PGDUMP_MAGIC):
        raise InvalidInput(f"{source} is not a pg_dump custom-format backup")
    args, env = _libpq_args(url)
    _run(
        [
            _tool("pg_restore"),
            "--clean",
            "--if-exists",
            "--no-owner",
            "--single-transaction",
            *args,
            str(source),
        ],
        env,
    )


def _run(command: list[str], env: dict[str, str]) -> None:
    result = subprocess.run(
        command, env={**os.environ, **env}, capture_output=True, text=True, timeout=3600
    )
    if result.returncode != 0:
        raise WarroomError(
            f"{Path(command[0]).name} failed: {result.stderr.strip()[:500]}", code="backup_failed"
        )

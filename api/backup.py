"""Point-in-time recovery with PostgreSQL's own tools: base backups by `pg_basebackup`, the
WAL between them archived by the server's `archive_command`, and a restore that replays
that WAL up to a chosen moment.

A nightly dump loses up to a day; a base backup plus archived WAL loses at most what the
server had not yet archived (bounded by `archive_timeout`), and restores to any moment
after the oldest kept base backup. Flowdesk takes the base backups and prepares restores;
archiving itself is the server's job (docs/operations.md shows the settings)."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import tarfile
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from urllib.parse import unquote, urlsplit

# Written beside each base backup: when it finished, the earliest moment it can restore to.
MANIFEST = "flowdesk-backup.json"


class BackupError(RuntimeError):
    """A backup or restore that cannot be done, with the reason an operator can act on."""


@dataclass(frozen=True)
class BaseBackup:
    path: Path
    finished_at: datetime

    @classmethod
    def read(cls, path: Path) -> BaseBackup:
        manifest = json.loads((path / MANIFEST).read_text())
        return cls(path, datetime.fromisoformat(manifest["finished_at"]))


def _tool(name: str, bin_dir: Path | None) -> str:
    found = str(bin_dir / name) if bin_dir else shutil.which(name)
    if found is None or not Path(found).exists():
        raise BackupError(f"{name} not found: install the PostgreSQL client tools or pass --pg-bin")
    return found


def libpq_args(database_url: str) -> list[str]:
    """The connection of a SQLAlchemy URL as libpq command-line options."""
    url = urlsplit(database_url)
    args = ["--host", url.hostname or "127.0.0.1", "--port", str(url.port or 5432)]
    if url.username:
        args += ["--username", unquote(url.username)]
    return args


def _run(command: list[str], password: str | None) -> None:
    # The password travels in the environment, never on a command line others can list.
    env = {**os.environ, "PGPASSWORD": password} if password else None
    done = subprocess.run(command, capture_output=True, text=True, env=env, check=False)
    if done.returncode != 0:
        raise BackupError(f"{Path(command[0]).name} failed: {done.stderr.strip()}")


def take_base_backup(database_url: str, into: Path, *, bin_dir: Path | None = None) -> BaseBackup:
    """A compressed base backup of the whole server in a new folder under `into`.

    It carries the WAL it needs to be consistent (`--wal-method=stream`), so it restores on
    its own; restoring to a later moment also needs the archived WAL."""
    into.mkdir(parents=True, exist_ok=True)
    target = into / datetime.now(UTC).strftime("base-%Y%m%dT%H%M%S.%fZ")
    password = urlsplit(database_url).password
    _run(
        [
            _tool("pg_basebackup", bin_dir),
            *libpq_args(database_url),
            "--pgdata",
            str(target),
            "--format=tar",
            "--gzip",
            "--wal-method=stream",
            "--checkpoint=fast",
            "--no-password",
        ],
        unquote(password) if password else None,
    )
    # After pg_basebackup returned, the backup's end point is in the past: any later moment
    # is a valid recovery target for it.
    finished = BaseBackup(target, datetime.now(UTC))
    (target / MANIFEST).write_text(json.dumps({"finished_at": finished.finished_at.isoformat()}))
    return finished


def base_backups(folder: Path) -> list[BaseBackup]:
    """The base backups under `folder`, oldest first."""
    found = [BaseBackup.read(p) for p in folder.iterdir() if (p / MANIFEST).is_file()]
    return sorted(found, key=lambda backup: backup.finished_at)


def choose_base_backup(folder: Path, target_time: datetime | None) -> BaseBackup:
    """The newest base backup that finished before `target_time` (the newest of all without
    one): the one with the least WAL to replay."""
    backups = base_backups(folder) if folder.is_dir() else []
    usable = [b for b in backups if target_time is None or b.finished_at < target_time]
    if not usable:
        when = f" before {target_time.isoformat()}" if target_time else ""
        raise BackupError(f"no base backup in {folder} finished{when}")
    return usable[-1]


def prepare_restore(
    backups: Path, wal_archive: Path, data_dir: Path, target_time: datetime | None = None
) -> BaseBackup:
    """Lay out `data_dir` so that a PostgreSQL server started on it replays the archived WAL
    up to `target_time` (to the end of the archive without one), then opens for writes.

    The server must be of the same major version as the one backed up; start it as the user
    that will own `data_dir` (PostgreSQL refuses a data directory others can read)."""
    if data_dir.exists() and any(data_dir.iterdir()):
        raise BackupError(f"{data_dir} is not empty: restore into a new data directory")
    if target_time is not None and target_time.tzinfo is None:
        raise BackupError("the target time needs a time zone (for example 2026-12-04T18:00:00Z)")
    backup = choose_base_backup(backups, target_time)
    data_dir.mkdir(parents=True, exist_ok=True)
    data_dir.chmod(0o700)
    with tarfile.open(backup.path / "base.tar.gz") as base:
        base.extractall(data_dir, filter="tar")
    with tarfile.open(backup.path / "pg_wal.tar.gz") as wal:
        wal.extractall(data_dir / "pg_wal", filter="tar")
    settings = [
        f'restore_command = \'cp "{wal_archive.resolve()}/%f" "%p"\'',
        "recovery_target_action = 'promote'",
    ]
    if target_time is not None:
        settings.append(f"recovery_target_time = '{target_time.isoformat()}'")
    with (data_dir / "postgresql.auto.conf").open("a") as conf:
        conf.write("\n# Written by flowdesk restore\n" + "\n".join(settings) + "\n")
    (data_dir / "recovery.signal").touch()
    return backup

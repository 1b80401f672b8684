"""Backup and restore of the embedded mode's data directory (``heedful backup`` / ``restore``).

What is kept: the SQLite database (every record: contacts, conversations, HR data, decisions, the
audit log), the secret key (without it, signed links already sent stop working), uploaded and
received files (``media/``) and the mails the embedded mode wrote instead of sending
(``sent-mail/``). What is not: what heedful builds again by itself (static files, trained FAQ
matchers, the task queue's files, beat's schedule).

Copying ``heedful.sqlite3`` while heedful runs can give a torn file (WAL mode keeps recent writes
in a second file). The database goes through SQLite's online backup API instead, which copies a
consistent snapshot while the web server and workers go on writing.

A restore checks the whole archive (every file's sha256, the database's integrity) before it
writes anything, refuses while heedful runs on the directory, and moves data already there aside
instead of deleting it. No Django here: the command line calls these with paths.
"""

from __future__ import annotations

import fcntl
import io
import json
import logging
import os
import shutil
import sqlite3
import tarfile
import tempfile
import zlib
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path, PurePosixPath
from typing import Any

# stdlib only: no model code is loaded by a backup.
from heedful.ml.paths import file_sha256

log = logging.getLogger(__name__)

FORMAT = 1
DATABASE = "heedful.sqlite3"
KEY_FILE = "secret_key"
FOLDERS = ("media", "sent-mail")
# Built from the database being replaced: queued tasks name its rows (a task for outbox mail 57
# must not meet another database's mail 57) and matchers its knowledge base. A replacing
# restore moves them aside with the data; beat queues what is due again.
DERIVED = ("broker", "knowledge")
MANIFEST = "MANIFEST.json"
LOCK = "heedful.lock"


class BackupError(Exception):
    """Why a backup or restore cannot go on, in words for the person who ran it."""


@dataclass(frozen=True)
class BackupReport:
    path: Path
    files: int
    bytes: int
    migrations: int


@dataclass(frozen=True)
class RestoreReport:
    files: int
    created_at: str
    moved_aside: Path | None


@contextmanager
def running_lock(data_dir: Path) -> Iterator[None]:
    """Held by ``heedful up`` for as long as it runs: a second ``up`` or a restore on the same
    directory is refused instead of running two schedulers or replacing a database in use."""
    data_dir.mkdir(parents=True, exist_ok=True)
    with open(data_dir / LOCK, "a+") as handle:
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            raise BackupError(
                f"heedful is already running with the data directory {data_dir} (a `heedful up`); "
                "stop it first (Ctrl-C where it runs)."
            ) from None
        except OSError as exc:
            # A file system without locks (some network mounts): go on unguarded, and say so.
            log.warning("No lock on %s (%s): nothing stops a second heedful up there.", data_dir, exc)
            yield
            return
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def make_backup(data_dir: Path, out: Path, *, heedful_version: str = "") -> BackupReport:
    """Write a ``.tar.gz`` of ``data_dir``'s data to ``out`` (readable by its owner only)."""
    database = data_dir / DATABASE
    if not database.is_file():
        raise BackupError(f"There is no heedful database in {data_dir} ({DATABASE} is missing).")
    out.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(dir=out.parent, prefix=".heedful-backup-") as work:
        snapshot = Path(work) / DATABASE
        _snapshot(database, snapshot)
        migrations = _applied_migrations(snapshot)
        members: list[tuple[str, Path]] = [(DATABASE, snapshot)]
        if (data_dir / KEY_FILE).is_file():
            members.append((KEY_FILE, data_dir / KEY_FILE))
        for folder in FOLDERS:
            for path in sorted((data_dir / folder).rglob("*")):
                if path.is_file() and not path.is_symlink():
                    members.append((path.relative_to(data_dir).as_posix(), path))
        files: dict[str, dict[str, Any]] = {
            name: {"sha256": file_sha256(path), "bytes": path.stat().st_size} for name, path in members
        }
        manifest = {
            "format": FORMAT,
            "created_at": datetime.now(UTC).isoformat(timespec="seconds"),
            "heedful_version": heedful_version,
            "migrations": migrations,
            "files": files,
        }
        partial = Path(work) / "backup.tar.gz"
        with tarfile.open(partial, "w:gz") as archive:
            _add_bytes(archive, MANIFEST, json.dumps(manifest, indent=1, sort_keys=True).encode())
            for name, path in members:
                archive.add(path, arcname=name, recursive=False)
        partial.chmod(0o600)  # the secret key and everyone's personal data are inside
        os.replace(partial, out)
    size = sum(int(f["bytes"]) for f in files.values())
    return BackupReport(out, len(members), size, len(migrations))


def restore_backup(
    archive_path: Path, data_dir: Path, *, replace: bool, known_migrations: set[str] | None = None
) -> RestoreReport:
    """Put a backup's data into ``data_dir``. ``known_migrations`` ("app.name" of every migration
    this installation has): a backup made by a newer heedful is refused, since this code could
    not read its tables."""
    with running_lock(data_dir), tempfile.TemporaryDirectory(dir=data_dir, prefix=".restore-") as work:
        staged = Path(work)
        manifest = _unpack_checked(archive_path, staged)
        newer = sorted(set(manifest["migrations"]) - known_migrations) if known_migrations is not None else []
        if newer:
            raise BackupError(
                "The backup was made by a newer heedful: this installation does not know its "
                f"migrations {', '.join(newer[:5])}. Upgrade heedful first, then restore."
            )
        present = [name for name in (DATABASE, KEY_FILE, *FOLDERS) if (data_dir / name).exists()]
        moved_aside = None
        if present:
            if not replace:
                raise BackupError(
                    f"{data_dir} already holds heedful data ({', '.join(present)}). Restore into an "
                    "empty directory, or add --replace to move the present data aside first."
                )
            moved_aside = data_dir / f"before-restore-{datetime.now(UTC):%Y%m%d-%H%M%S}"
            moved_aside.mkdir()
            for name in [*present, f"{DATABASE}-wal", f"{DATABASE}-shm", *DERIVED]:
                if (data_dir / name).exists():
                    os.replace(data_dir / name, moved_aside / name)
        for name in manifest["files"]:
            target = data_dir / name
            target.parent.mkdir(parents=True, exist_ok=True)
            os.replace(staged / name, target)
        if (data_dir / KEY_FILE).exists():
            (data_dir / KEY_FILE).chmod(0o600)
    return RestoreReport(len(manifest["files"]), str(manifest["created_at"]), moved_aside)


def _snapshot(database: Path, target: Path) -> None:
    source = sqlite3.connect(f"file:{database}?mode=ro", uri=True)
    copy = sqlite3.connect(target)
    try:
        source.backup(copy)
        copy.execute("PRAGMA journal_mode=DELETE")  # one self-contained file in the archive
        _check_integrity(copy, "the database")
    finally:
        copy.close()
        source.close()


def _check_integrity(connection: sqlite3.Connection, what: str) -> None:
    try:
        rows = connection.execute("PRAGMA integrity_check").fetchall()
    except sqlite3.DatabaseError as exc:
        raise BackupError(f"{what} is not a readable SQLite database ({exc}).") from None
    if rows != [("ok",)]:
        raise BackupError(f"{what} fails SQLite's integrity check: {rows[0][0]}")


def _applied_migrations(database: Path) -> list[str]:
    connection = sqlite3.connect(f"file:{database}?mode=ro", uri=True)
    try:
        rows = connection.execute("SELECT app, name FROM django_migrations ORDER BY app, name").fetchall()
    except sqlite3.OperationalError:
        raise BackupError("The database has no migrations table: is it heedful's?") from None
    finally:
        connection.close()
    return [f"{app}.{name}" for app, name in rows]


def _unpack_checked(archive_path: Path, staged: Path) -> dict[str, Any]:
    """Extract the manifest's files into ``staged``, checking names, sizes and checksums."""
    try:
        with tarfile.open(archive_path, "r:gz") as archive:
            manifest = _read_manifest(archive)
            expected: dict[str, dict[str, Any]] = manifest["files"]
            if DATABASE not in expected:
                raise BackupError("The backup holds no database.")
            seen = set()
            for member in archive:
                if member.name == MANIFEST:
                    continue
                if member.name not in expected or not member.isfile():
                    raise BackupError(f"The backup holds {member.name!r}, which its manifest does not list.")
                _safe_name(member.name)
                source = archive.extractfile(member)
                if source is None:
                    raise BackupError(f"{member.name} cannot be read from the backup.")
                target = staged / member.name
                target.parent.mkdir(parents=True, exist_ok=True)
                with open(target, "wb") as sink:
                    shutil.copyfileobj(source, sink)
                if file_sha256(target) != expected[member.name]["sha256"]:
                    raise BackupError(f"{member.name} in the backup is damaged (its checksum differs).")
                seen.add(member.name)
    except (tarfile.TarError, EOFError, OSError, zlib.error) as exc:
        raise BackupError(f"{archive_path} is not a readable heedful backup ({exc}).") from None
    missing = sorted(set(expected) - seen)
    if missing:
        raise BackupError(f"The backup is incomplete: {', '.join(missing[:5])} missing.")
    connection = sqlite3.connect(staged / DATABASE)
    try:
        _check_integrity(connection, "The backup's database")
    finally:
        connection.close()
    return manifest


def _read_manifest(archive: tarfile.TarFile) -> dict[str, Any]:
    try:
        handle = archive.extractfile(MANIFEST)
    except KeyError:
        raise BackupError("This is not a heedful backup (it has no MANIFEST.json).") from None
    if handle is None:
        raise BackupError("This is not a heedful backup (its MANIFEST.json is not a file).")
    try:
        manifest: dict[str, Any] = json.loads(handle.read(1_000_000))
    except ValueError:
        raise BackupError("The backup's MANIFEST.json cannot be read.") from None
    if manifest.get("format") != FORMAT:
        raise BackupError(
            f"Backup format {manifest.get('format')!r} is not one this heedful reads ({FORMAT})."
        )
    for name in manifest.get("files", {}):
        _safe_name(name)
    return manifest


def _safe_name(name: str) -> None:
    path = PurePosixPath(name)
    top = path.parts[0] if path.parts else ""
    if path.is_absolute() or ".." in path.parts or not (name in (DATABASE, KEY_FILE) or top in FOLDERS):
        raise BackupError(f"The backup names a file outside heedful's data: {name!r}.")


def _add_bytes(archive: tarfile.TarFile, name: str, data: bytes) -> None:
    info = tarfile.TarInfo(name)
    info.size = len(data)
    info.mtime = int(datetime.now(UTC).timestamp())
    info.mode = 0o600
    archive.addfile(info, io.BytesIO(data))

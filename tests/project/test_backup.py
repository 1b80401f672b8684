"""`heedful backup` and `heedful restore`: a consistent copy while heedful runs, and a restore
that checks everything before it writes anything and loses nothing already there."""

from __future__ import annotations

import gzip
import io
import json
import os
import sqlite3
import subprocess
import sys
import tarfile
import threading
from pathlib import Path

import pytest
from click.testing import CliRunner

from heedful.backup import BackupError, make_backup, restore_backup, running_lock
from heedful.cli import main

KNOWN = {"crm.0001_initial", "crm.0002_tags"}


def _data_dir(root: Path) -> Path:
    """A small embedded data directory: a WAL database with Django's migrations table, the key,
    a received email's raw file and a mail the embedded mode wrote."""
    data = root / "data"
    (data / "media" / "inbox").mkdir(parents=True)
    (data / "sent-mail").mkdir()
    with sqlite3.connect(data / "heedful.sqlite3") as db:
        db.execute("PRAGMA journal_mode=WAL")
        db.execute("CREATE TABLE django_migrations (id INTEGER PRIMARY KEY, app TEXT, name TEXT)")
        db.executemany(
            "INSERT INTO django_migrations (app, name) VALUES (?, ?)", [m.split(".") for m in KNOWN]
        )
        db.execute("CREATE TABLE pair (id INTEGER PRIMARY KEY, side TEXT)")
    (data / "secret_key").write_text("k" * 50, encoding="utf-8")
    (data / "media" / "inbox" / "raw-1.eml").write_bytes(b"From: anna@example.com\r\n\r\nHallo")
    (data / "sent-mail" / "1.log").write_text("Subject: Welcome", encoding="utf-8")
    return data


def _rows(database: Path) -> list[tuple[int, str]]:
    with sqlite3.connect(database) as db:
        return db.execute("SELECT id, side FROM pair ORDER BY id").fetchall()


def test_a_backup_taken_while_a_writer_commits_holds_whole_transactions(tmp_path: Path) -> None:
    data = _data_dir(tmp_path)
    stop = threading.Event()

    def write_pairs() -> None:
        # Each transaction writes two rows: a torn copy would show an odd number.
        db = sqlite3.connect(data / "heedful.sqlite3", timeout=30)
        while not stop.is_set():
            with db:
                db.executemany("INSERT INTO pair (side) VALUES (?)", [("left",), ("right",)])
        db.close()

    writer = threading.Thread(target=write_pairs)
    writer.start()
    try:
        while len(_rows(data / "heedful.sqlite3")) < 200:
            pass
        report = make_backup(data, tmp_path / "b.tar.gz", heedful_version="0.1.0")
    finally:
        stop.set()
        writer.join()

    restored = tmp_path / "restored"
    restore_backup(tmp_path / "b.tar.gz", restored, replace=False, known_migrations=KNOWN)
    rows = _rows(restored / "heedful.sqlite3")
    assert len(rows) >= 200
    assert len(rows) % 2 == 0
    assert [side for _, side in rows[:2]] == ["left", "right"]
    assert (report.files, report.migrations) == (4, 2)
    assert oct((tmp_path / "b.tar.gz").stat().st_mode & 0o777) == "0o600"


def test_a_restore_brings_back_the_key_received_files_and_written_mails(tmp_path: Path) -> None:
    data = _data_dir(tmp_path)
    make_backup(data, tmp_path / "b.tar.gz")

    report = restore_backup(tmp_path / "b.tar.gz", tmp_path / "new", replace=False, known_migrations=KNOWN)

    new = tmp_path / "new"
    assert (report.files, report.moved_aside) == (4, None)
    assert (new / "secret_key").read_text(encoding="utf-8") == "k" * 50
    assert oct((new / "secret_key").stat().st_mode & 0o777) == "0o600"
    assert (new / "media" / "inbox" / "raw-1.eml").read_bytes() == b"From: anna@example.com\r\n\r\nHallo"
    assert (new / "sent-mail" / "1.log").read_text(encoding="utf-8") == "Subject: Welcome"
    with sqlite3.connect(new / "heedful.sqlite3") as db:
        assert db.execute("PRAGMA journal_mode").fetchone() == ("delete",)


def test_restoring_over_data_needs_replace_and_then_moves_that_data_aside(tmp_path: Path) -> None:
    data = _data_dir(tmp_path)
    make_backup(data, tmp_path / "b.tar.gz")
    (data / "secret_key").write_text("newer key", encoding="utf-8")
    (data / "broker" / "queue").mkdir(parents=True)
    (data / "broker" / "queue" / "send-mail-57.msg").write_text("{}", encoding="utf-8")

    with pytest.raises(
        BackupError, match=r"already holds heedful data \(heedful\.sqlite3, secret_key, media"
    ):
        restore_backup(tmp_path / "b.tar.gz", data, replace=False, known_migrations=KNOWN)
    assert (data / "secret_key").read_text(encoding="utf-8") == "newer key"

    report = restore_backup(tmp_path / "b.tar.gz", data, replace=True, known_migrations=KNOWN)

    assert report.moved_aside is not None
    assert (report.moved_aside / "secret_key").read_text(encoding="utf-8") == "newer key"
    assert (report.moved_aside / "media" / "inbox" / "raw-1.eml").is_file()
    # Tasks queued for the replaced database go with it.
    assert (report.moved_aside / "broker" / "queue" / "send-mail-57.msg").is_file()
    assert not (data / "broker").exists()
    assert (data / "secret_key").read_text(encoding="utf-8") == "k" * 50


def test_no_restore_while_heedful_runs_on_the_directory(tmp_path: Path) -> None:
    data = _data_dir(tmp_path)
    make_backup(data, tmp_path / "b.tar.gz")

    with running_lock(data), pytest.raises(BackupError, match="heedful is already running"):
        restore_backup(tmp_path / "b.tar.gz", data, replace=True, known_migrations=KNOWN)

    assert not list(data.glob("before-restore-*"))


def test_a_file_system_without_locks_runs_unguarded_and_says_so(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    import fcntl

    def no_locks(*_: object) -> None:
        raise OSError(37, "No locks available")

    monkeypatch.setattr(fcntl, "flock", no_locks)
    with running_lock(tmp_path):
        ran = True

    assert ran
    assert "nothing stops a second heedful up there" in caplog.text


def _rewrite(
    source: Path, target: Path, change: dict[str, bytes], manifest_files: dict[str, dict] | None = None
) -> None:
    with tarfile.open(source, "r:gz") as old, tarfile.open(target, "w:gz") as new:
        for member in old:
            body = old.extractfile(member).read()  # type: ignore[union-attr]
            if member.name == "MANIFEST.json" and manifest_files is not None:
                manifest = json.loads(body)
                manifest["files"].update(manifest_files)
                body = json.dumps(manifest).encode()
            body = change.get(member.name, body)
            member.size = len(body)
            new.addfile(member, io.BytesIO(body))
        for name, body in change.items():
            if name not in old.getnames():
                info = tarfile.TarInfo(name)
                info.size = len(body)
                new.addfile(info, io.BytesIO(body))


@pytest.mark.parametrize(
    ("change", "listed", "message"),
    [
        ({"secret_key": b"a forged key"}, None, "secret_key in the backup is damaged"),
        ({"../outside": b"x"}, {"../outside": {"sha256": "", "bytes": 1}}, "names a file outside"),
        ({"media/../../x": b"x"}, None, "which its manifest does not list"),
        ({"heedful.sqlite3": b"not a database" * 100}, None, "heedful.sqlite3 in the backup is damaged"),
    ],
)
def test_a_tampered_or_damaged_backup_is_refused_before_anything_is_written(
    tmp_path: Path, change: dict[str, bytes], listed: dict[str, dict] | None, message: str
) -> None:
    make_backup(_data_dir(tmp_path), tmp_path / "b.tar.gz")
    _rewrite(tmp_path / "b.tar.gz", tmp_path / "bad.tar.gz", change, listed)

    with pytest.raises(BackupError, match=message):
        restore_backup(tmp_path / "bad.tar.gz", tmp_path / "new", replace=False, known_migrations=KNOWN)

    assert sorted(p.name for p in (tmp_path / "new").iterdir()) == ["heedful.lock"]


def test_a_truncated_or_foreign_file_is_refused(tmp_path: Path) -> None:
    make_backup(_data_dir(tmp_path), tmp_path / "b.tar.gz")
    whole = (tmp_path / "b.tar.gz").read_bytes()
    (tmp_path / "cut.tar.gz").write_bytes(whole[: len(whole) // 2])
    (tmp_path / "other.tar.gz").write_bytes(gzip.compress(b"just some text"))

    for name in ("cut.tar.gz", "other.tar.gz"):
        with pytest.raises(BackupError, match="is not a readable heedful backup"):
            restore_backup(tmp_path / name, tmp_path / "new", replace=False, known_migrations=KNOWN)
    assert not (tmp_path / "new" / "heedful.sqlite3").exists()


def test_a_backup_from_a_newer_heedful_is_refused(tmp_path: Path) -> None:
    make_backup(_data_dir(tmp_path), tmp_path / "b.tar.gz")

    older = {"crm.0001_initial"}
    with pytest.raises(BackupError, match=r"does not know its migrations crm\.0002_tags\. Upgrade heedful"):
        restore_backup(tmp_path / "b.tar.gz", tmp_path / "new", replace=False, known_migrations=older)


@pytest.mark.parametrize("command", [["backup"], ["restore", __file__]])
def test_backup_and_restore_refuse_the_production_mode_and_point_to_pg_dump(
    tmp_path: Path, command: list[str]
) -> None:
    production = {"DATABASE_URL": "postgres://x@127.0.0.1/x"}
    result = CliRunner().invoke(main, [*command, "--data-dir", str(tmp_path)], env=production)

    assert result.exit_code == 1
    assert f"heedful {command[0]} covers the embedded mode" in result.output
    assert "With PostgreSQL, back up the database with pg_dump" in result.output
    assert list(tmp_path.iterdir()) == []


def test_the_commands_round_trip_a_real_installation(tmp_path: Path) -> None:
    env = {k: v for k, v in os.environ.items() if k not in ("SECRET_KEY", "DATABASE_URL", "HEEDFUL_DATA_DIR")}
    env["DJANGO_SETTINGS_MODULE"] = "heedful.settings"
    data = tmp_path / "data"
    data.mkdir()
    (data / "secret_key").write_text("s" * 50, encoding="utf-8")

    def heedful(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [sys.executable, "-m", "heedful.cli", *args],
            env=env,
            capture_output=True,
            text=True,
            timeout=180,
            check=False,
        )

    assert heedful("manage", "--data-dir", str(data), "migrate", "-v", "0").returncode == 0
    made = heedful("backup", "--data-dir", str(data), "--out", str(tmp_path / "b.tar.gz"))
    assert made.returncode == 0, made.stderr[-2000:]
    done = heedful("restore", str(tmp_path / "b.tar.gz"), "--data-dir", str(tmp_path / "restored"))
    assert done.returncode == 0, done.stderr[-2000:]
    assert "Start it with `heedful up --data-dir" in done.stdout

    pending = heedful("manage", "--data-dir", str(tmp_path / "restored"), "migrate", "--check")
    assert pending.returncode == 0, pending.stdout + pending.stderr[-2000:]

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from click.testing import CliRunner

from heedful.cli import main


def test_help_lists_every_command() -> None:
    result = CliRunner().invoke(main, ["--help"])
    assert result.exit_code == 0
    listed = [line.split()[0] for line in result.output.split("Commands:")[1].splitlines() if line.strip()]
    assert listed == [
        "backup",
        "beat",
        "create-owner",
        "demo",
        "eval",
        "imap-idle",
        "manage",
        "migrate",
        "ml",
        "restore",
        "up",
        "web",
        "worker",
    ]


def test_up_documents_its_options() -> None:
    result = CliRunner().invoke(main, ["up", "--help"])
    assert result.exit_code == 0
    for option in ("--demo", "--host", "--port", "--data-dir", "HEEDFUL_DATA_DIR"):
        assert option in result.output


def test_manage_runs_against_an_embedded_data_directory(tmp_path: Path) -> None:
    # Without --data-dir, a Django command on an embedded install needed SECRET_KEY_FILE,
    # ALLOWED_HOSTS and HEEDFUL_DATA_DIR by hand.
    env = {k: v for k, v in os.environ.items() if k not in ("SECRET_KEY", "DATABASE_URL", "HEEDFUL_DATA_DIR")}
    env["DJANGO_SETTINGS_MODULE"] = "heedful.settings"
    (tmp_path / "secret_key").write_text("k" * 50, encoding="utf-8")
    command = [
        sys.executable,
        "-m",
        "heedful.cli",
        "manage",
        "--data-dir",
        str(tmp_path),
        "migrate",
        "-v",
        "0",
    ]
    done = subprocess.run(command, env=env, capture_output=True, text=True, timeout=120, check=False)
    assert done.returncode == 0, done.stderr[-2000:]
    assert (tmp_path / "heedful.sqlite3").is_file()

    elsewhere = tmp_path / "not-embedded"
    elsewhere.mkdir()
    command[5] = str(elsewhere)
    refused = subprocess.run(command, env=env, capture_output=True, text=True, timeout=120, check=False)
    assert refused.returncode == 2
    assert "is not an embedded data directory (no secret_key in it)" in refused.stderr

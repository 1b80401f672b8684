from __future__ import annotations

from click.testing import CliRunner

from heedful.cli import main


def test_help_lists_every_command() -> None:
    result = CliRunner().invoke(main, ["--help"])
    assert result.exit_code == 0
    listed = [line.split()[0] for line in result.output.split("Commands:")[1].splitlines() if line.strip()]
    assert listed == [
        "beat",
        "create-owner",
        "demo",
        "eval",
        "imap-idle",
        "manage",
        "migrate",
        "ml",
        "up",
        "web",
        "worker",
    ]


def test_up_documents_its_options() -> None:
    result = CliRunner().invoke(main, ["up", "--help"])
    assert result.exit_code == 0
    for option in ("--demo", "--host", "--port", "--data-dir", "HEEDFUL_DATA_DIR"):
        assert option in result.output

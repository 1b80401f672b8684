from __future__ import annotations

from pathlib import Path

import pytest

from heedful.env import (
    ImproperlyConfiguredEnv,
    env_bool,
    env_choice,
    env_int,
    env_json_list,
    env_list,
    env_str,
)


def test_env_bool_reads_the_usual_spellings(monkeypatch: pytest.MonkeyPatch) -> None:
    for raw, expected in [("1", True), ("True", True), ("yes", True), ("off", False), ("0", False)]:
        monkeypatch.setenv("X", raw)
        assert env_bool("X", not expected) is expected


def test_env_bool_fails_loudly_on_a_typo(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("X", "ture")
    with pytest.raises(ImproperlyConfiguredEnv, match=r"X='ture' is not a boolean"):
        env_bool("X", False)


def test_env_int_checks_numbers_and_minimums(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("X", "12")
    assert env_int("X", 1) == 12
    monkeypatch.setenv("X", "twelve")
    with pytest.raises(ImproperlyConfiguredEnv, match="not a whole number"):
        env_int("X", 1)
    monkeypatch.setenv("X", "0")
    with pytest.raises(ImproperlyConfiguredEnv, match="below the minimum 1"):
        env_int("X", 5, minimum=1)


def test_env_list_drops_blanks(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("X", " a.example, ,b.example ")
    assert env_list("X") == ["a.example", "b.example"]


def test_env_str_reads_a_secret_from_a_file(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    secret = tmp_path / "key"
    secret.write_text("s3cret\n")
    monkeypatch.setenv("X_FILE", str(secret))
    assert env_str("X") == "s3cret"
    monkeypatch.setenv("X_FILE", str(tmp_path / "missing"))
    with pytest.raises(ImproperlyConfiguredEnv, match="cannot be read"):
        env_str("X")


def test_env_choice_lists_the_allowed_values(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("X", "maybe")
    with pytest.raises(ImproperlyConfiguredEnv, match="must be one of auto, ask"):
        env_choice("X", "auto", ("auto", "ask"))


def test_env_json_list_reads_a_list_of_objects(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("X", '[{"url": "https://hooks.example/a", "secret": "s"}]')
    assert env_json_list("X") == [{"url": "https://hooks.example/a", "secret": "s"}]
    monkeypatch.setenv("X", "")
    assert env_json_list("X") == []
    monkeypatch.setenv("X", '{"url": 1}')
    with pytest.raises(ImproperlyConfiguredEnv, match="must be a JSON list of objects"):
        env_json_list("X")
    monkeypatch.setenv("X", "[{")
    with pytest.raises(ImproperlyConfiguredEnv, match="X is not valid JSON"):
        env_json_list("X")

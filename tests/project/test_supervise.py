"""heedful.supervise with real child processes and a clock the test moves."""

from __future__ import annotations

import os
import signal
import sys
import time
from pathlib import Path

import pytest

from heedful.supervise import Supervisor, describe_exit

SLEEPER = [sys.executable, "-c", "import time; time.sleep(60)"]
QUITTER = [sys.executable, "-c", "import sys; sys.exit(3)"]


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def _wait_exit(supervisor: Supervisor, name: str) -> None:
    child = next(c for c in supervisor.children if c.name == name)
    assert child.process is not None
    child.process.wait(timeout=10)


@pytest.fixture
def said() -> list[str]:
    return []


def test_exit_codes_are_told_in_words() -> None:
    assert describe_exit(3) == "exit code 3"
    assert describe_exit(0) == "exit code 0"
    assert describe_exit(-9) == "killed by SIGKILL"
    assert describe_exit(-15) == "killed by SIGTERM"


def test_a_killed_child_is_started_again_after_a_pause_and_the_others_are_left_alone(said: list[str]) -> None:
    clock = Clock()
    supervisor = Supervisor([("worker", SLEEPER), ("web server", SLEEPER)], echo=said.append, clock=clock)
    supervisor.start()
    try:
        worker, web = supervisor.children
        assert worker.process is not None
        assert web.process is not None
        first_pid, web_pid = worker.process.pid, web.process.pid
        assert said == [f"heedful: started worker (pid {first_pid}), web server (pid {web_pid})."]

        os.kill(first_pid, signal.SIGKILL)
        _wait_exit(supervisor, "worker")
        assert supervisor.check() is None
        assert said[1] == "heedful: the worker exited (killed by SIGKILL); starting it again in 1 s."
        clock.now += 0.5
        assert supervisor.check() is None  # not yet due
        assert worker.process.pid == first_pid
        clock.now += 0.5
        assert supervisor.check() is None
        assert worker.process.pid != first_pid
        assert worker.process.poll() is None
        assert said[2] == f"heedful: started the worker (pid {worker.process.pid}) again."
        assert web.process.pid == web_pid
        assert len(said) == 3
    finally:
        supervisor.stop(grace=5)
    assert all(p.poll() is not None for p in supervisor.processes())


def test_the_pause_doubles_and_a_child_that_keeps_exiting_stops_everything(said: list[str]) -> None:
    clock = Clock()
    supervisor = Supervisor(
        [("worker", QUITTER), ("web server", SLEEPER)], max_exits=4, window=600, echo=said.append, clock=clock
    )
    supervisor.start()
    try:
        reasons = []
        for attempt in range(4):
            _wait_exit(supervisor, "worker")
            reasons.append(supervisor.check())
            if attempt < 3:
                clock.now += 30
                assert supervisor.check() is None  # due: started again
        assert reasons == [None, None, None, (
            "heedful: the worker exited 4 times in 10 minutes (last: exit code 3); stopping. "
            "Its messages above say why."
        )]  # fmt: skip
        pauses = [line for line in said if "starting it again" in line]
        assert pauses == [
            "heedful: the worker exited (exit code 3); starting it again in 1 s.",
            "heedful: the worker exited (exit code 3); starting it again in 2 s.",
            "heedful: the worker exited (exit code 3); starting it again in 4 s.",
        ]
    finally:
        supervisor.stop(grace=5)


def test_exits_older_than_the_window_are_forgotten(said: list[str]) -> None:
    clock = Clock()
    supervisor = Supervisor([("scheduler", QUITTER)], max_exits=2, window=600, echo=said.append, clock=clock)
    supervisor.start()
    try:
        for _ in range(3):
            _wait_exit(supervisor, "scheduler")
            assert supervisor.check() is None
            clock.now += 601  # each exit alone in its window: always the first pause
            supervisor.check()
        assert [line for line in said if "again in" in line] == [
            "heedful: the scheduler exited (exit code 3); starting it again in 1 s."
        ] * 3
    finally:
        supervisor.stop(grace=5)


def test_stop_kills_a_child_that_ignores_sigterm(said: list[str], tmp_path: Path) -> None:
    ready = tmp_path / "ready"
    stubborn = [
        sys.executable,
        "-c",
        "import pathlib, signal, sys, time; signal.signal(signal.SIGTERM, signal.SIG_IGN); "
        f"pathlib.Path({str(ready)!r}).touch(); time.sleep(60)",
    ]
    supervisor = Supervisor([("worker", stubborn)], echo=said.append)
    supervisor.start()
    deadline = time.monotonic() + 30
    while not ready.exists():  # its handler is installed
        assert time.monotonic() < deadline
        time.sleep(0.05)
    started = time.monotonic()
    supervisor.stop(grace=1)
    (process,) = supervisor.processes()
    assert process.returncode == -signal.SIGKILL
    assert time.monotonic() - started < 10

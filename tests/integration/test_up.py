"""`heedful up` as a person runs it: a real process tree, a real port, Ctrl-C."""

from __future__ import annotations

import os
import re
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _start(data_dir: Path, port: int, *extra: str) -> subprocess.Popen[str]:
    env = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith(
            (
                "DJANGO_",
                "SECRET_KEY",
                "ALLOWED_HOSTS",
                "DATABASE_URL",
                "REDIS_URL",
                "SITE_URL",
                "CSRF_",
                "HEEDFUL_",
            )
        )
    }
    return subprocess.Popen(
        [sys.executable, "-m", "heedful.cli", "up", "--port", str(port), "--data-dir", str(data_dir), *extra],
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        env=env,
        start_new_session=True,  # so Ctrl-C can be sent to the whole tree, as a terminal does
    )


def _read_until(proc: subprocess.Popen[str], pattern: str, timeout: float = 120) -> list[str]:
    lines: list[str] = []
    deadline = time.monotonic() + timeout
    assert proc.stdout is not None
    while time.monotonic() < deadline:
        line = proc.stdout.readline()
        if not line:
            break
        lines.append(line.rstrip())
        if re.search(pattern, line):
            return lines
    raise AssertionError(f"never printed {pattern!r}; output was:\n" + "\n".join(lines))


def _ctrl_c(proc: subprocess.Popen[str]) -> int:
    os.killpg(proc.pid, signal.SIGINT)
    try:
        return proc.wait(timeout=40)
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)


def test_up_with_demo_serves_the_login_page_and_stops_on_ctrl_c(tmp_path: Path) -> None:
    port = _free_port()
    proc = _start(tmp_path / "data", port, "--demo")
    try:
        lines = _read_until(proc, r"heedful is running at http://localhost:\d+")
        output = "\n".join(lines)
        assert "demo data loaded: 50 customers, 12 employees in 3 teams" in output
        # No terminal: no password prompt and no default password, but a one-time link.
        link = re.search(r"one-time link to choose it: (\S+)", output)
        assert link is not None
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/accounts/login/", timeout=10) as response:
            assert response.status == 200
            assert "Sign in" in response.read().decode()
        with urllib.request.urlopen(link.group(1).replace("localhost", "127.0.0.1"), timeout=10) as response:
            assert response.status == 200
        # Static files are served by the web process itself.
        with urllib.request.urlopen(
            f"http://127.0.0.1:{port}/static/heedful/app.css", timeout=10
        ) as response:
            assert response.status == 200
    finally:
        code = _ctrl_c(proc)
    assert code == 0
    assert (tmp_path / "data" / "heedful.sqlite3").exists()

    # Starting again reuses the data: no second owner, no second demo load.
    proc = _start(tmp_path / "data", port, "--demo")
    try:
        output = "\n".join(_read_until(proc, r"heedful is running at"))
        assert "demo data already loaded" in output
        assert "one-time link" not in output
    finally:
        assert _ctrl_c(proc) == 0


def test_up_starts_a_killed_worker_and_scheduler_again_and_keeps_serving(tmp_path: Path) -> None:
    port = _free_port()
    proc = _start(tmp_path / "data", port)
    try:
        lines = _read_until(proc, r"heedful is running at")
        started = next(line for line in lines if line.startswith("heedful: started web server"))
        pids = {
            name: int(pid)
            for name, pid in re.findall(r"(web server|worker|scheduler) \(pid (\d+)\)", started)
        }
        assert set(pids) == {"web server", "worker", "scheduler"}

        os.kill(pids["worker"], signal.SIGKILL)
        _read_until(proc, r"the worker exited \(killed by SIGKILL\); starting it again in 1 s\.", timeout=30)
        again = _read_until(proc, r"started the worker \(pid \d+\) again\.", timeout=30)[-1]
        new_worker = int(re.findall(r"pid (\d+)", again)[0])
        assert new_worker != pids["worker"]

        os.kill(pids["scheduler"], signal.SIGKILL)
        _read_until(
            proc, r"the scheduler exited \(killed by SIGKILL\); starting it again in 1 s\.", timeout=30
        )
        again = _read_until(proc, r"started the scheduler \(pid \d+\) again\.", timeout=30)[-1]
        new_scheduler = int(re.findall(r"pid (\d+)", again)[0])

        time.sleep(3)  # both came up again, not only started
        for pid in (pids["web server"], new_worker, new_scheduler):
            os.kill(pid, 0)  # raises if the process is gone
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/healthz", timeout=10) as response:
            assert response.status == 200
    finally:
        code = _ctrl_c(proc)
    assert code == 0
    for pid in (pids["web server"], new_worker, new_scheduler):
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            continue
        raise AssertionError(f"process {pid} outlived `heedful up`")


def test_up_stops_with_exit_code_1_when_its_port_is_taken(tmp_path: Path) -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = int(taken.getsockname()[1])
        proc = _start(tmp_path / "data", port)
        try:
            output = "\n".join(_read_until(proc, r"heedful: stopped\."))
            code = proc.wait(timeout=40)
        finally:
            if proc.poll() is None:
                os.killpg(proc.pid, signal.SIGKILL)
    assert "heedful: the web server did not come up; stopping." in output
    assert "heedful is running" not in output
    # Not started again and again: a port in use stays in use.
    assert "starting it again" not in output
    assert code == 1

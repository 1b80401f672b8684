"""Real processes for fault tests and benchmarks: a private Redis, an SMTP sink, workers.

Nothing here is mocked: the worker is ``heedful worker`` in its own process group (so
``kill -9`` takes the pool with it, as when a machine dies), the broker is a real
``redis-server`` on a private port (so it can be killed and restarted without touching
anyone else's), and the sink is aiosmtpd speaking SMTP on a local port.
"""

from __future__ import annotations

import contextlib
import ctypes
import email
import email.message
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import threading
import time
import uuid
from collections import Counter
from pathlib import Path
from typing import Any

from aiosmtpd.controller import Controller

ROOT = Path(__file__).resolve().parents[2]


_TASK_LINE = re.compile(rb"Task [\w.]+\[([0-9a-f-]+)\] (\w+)")


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


class SmtpSink:
    """Counts every SMTP transaction by Message-ID; can be taken down and brought back."""

    def __init__(self, port: int | None = None) -> None:
        self.port = port or free_port()
        self.received: Counter[str] = Counter()
        self.recipients: dict[str, list[str]] = {}
        self.messages: list[email.message.Message] = []  # every one received, in order
        self._lock = threading.Lock()
        self._controller: Controller | None = None

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        message = email.message_from_bytes(envelope.content)
        with self._lock:
            self.received[message["Message-ID"]] += 1
            self.recipients[message["Message-ID"]] = list(envelope.rcpt_tos)
            self.messages.append(message)
        return "250 OK"

    def start(self) -> SmtpSink:
        self._controller = Controller(self, hostname="127.0.0.1", port=self.port)
        self._controller.start()
        return self

    def stop(self) -> None:
        if self._controller is not None:
            self._controller.stop()
            self._controller = None

    def duplicates(self) -> dict[str, int]:
        with self._lock:
            return {mid: n for mid, n in self.received.items() if n > 1}

    def ids(self) -> set[str]:
        with self._lock:
            return set(self.received)


class PrivateRedis:
    """A throwaway redis-server without persistence: a restart loses every queued message."""

    def __init__(self) -> None:
        self.port = free_port()
        self.proc: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def start(self) -> PrivateRedis:
        binary = shutil.which("redis-server")
        if binary is None:
            raise RuntimeError("redis-server is not installed")
        self.proc = subprocess.Popen(
            [binary, "--port", str(self.port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no"],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            try:
                socket.create_connection(("127.0.0.1", self.port), timeout=0.5).close()
                return self
            except OSError:
                time.sleep(0.05)
        raise RuntimeError("redis-server did not start")

    def kill(self) -> None:
        if self.proc is not None:
            self.proc.kill()
            self.proc.wait()
            self.proc = None


def database_url(settings_dict: dict[str, Any]) -> str:
    if settings_dict["ENGINE"].endswith("sqlite3"):
        return f"sqlite:///{settings_dict['NAME']}"
    host, port = settings_dict["HOST"] or "127.0.0.1", settings_dict["PORT"] or 5432
    return f"postgres://{settings_dict['USER']}@{host}:{port}/{settings_dict['NAME']}"


def _die_with_parent() -> None:
    """Linux: the worker gets SIGKILL if the test process dies (a timeout, Ctrl-C), never orphaned."""
    with contextlib.suppress(OSError, AttributeError):
        libc = ctypes.CDLL("libc.so.6", use_errno=True)
        libc.prctl(1, signal.SIGKILL)  # PR_SET_PDEATHSIG


class Workers:
    """Start ``heedful worker`` processes on a private queue; kill them like a power cut."""

    def __init__(
        self, *, redis_url: str, db_url: str, smtp_port: int, data_dir: Path, queue: str = ""
    ) -> None:
        self.queue = queue or f"wf-{uuid.uuid4().hex[:10]}"
        self.env = {
            **os.environ,
            "DJANGO_SETTINGS_MODULE": "tests.workflows_faults.worker_settings",
            "PYTHONPATH": str(ROOT),
            "DATABASE_URL": db_url,
            "REDIS_URL": redis_url,
            "HEEDFUL_TASK_QUEUE": self.queue,
            "HEEDFUL_DATA_DIR": str(data_dir),
            "SECRET_KEY": "fault-tests",
            "ALLOWED_HOSTS": "localhost",
            "EMAIL_HOST": "127.0.0.1",
            "EMAIL_PORT": str(smtp_port),
            "EMAIL_USE_TLS": "false",
            "EMAIL_TIMEOUT": "3",
        }
        self.procs: list[subprocess.Popen[bytes]] = []
        self.restarts: list[int] = []  # exit codes of workers restarted by restart_exited()
        self.logs: list[Path] = []
        self._log_of: dict[int, Path] = {}
        self.data_dir = data_dir

    def start(self, concurrency: int = 2) -> subprocess.Popen[bytes]:
        log = self.data_dir / f"worker-{len(self.logs)}.log"
        self.logs.append(log)
        with log.open("wb") as out:
            proc = subprocess.Popen(
                [sys.executable, "-m", "heedful.cli", "worker", "--concurrency", str(concurrency)],
                env=self.env,
                cwd=ROOT,
                stdout=out,
                stderr=subprocess.STDOUT,
                start_new_session=True,  # its own process group: kill -9 reaches the pool too
                preexec_fn=_die_with_parent,
            )
        self.procs.append(proc)
        self._log_of[proc.pid] = log
        return proc

    def is_ready(self, proc: subprocess.Popen[bytes]) -> bool:
        """Whether the worker has connected and takes tasks (Celery logs "<name> ready.")."""
        log = self._log_of.get(proc.pid)
        return log is not None and log.exists() and b" ready." in log.read_bytes()

    def unfinished_tasks(self, proc: subprocess.Popen[bytes]) -> int:
        """Tasks the worker has received and not finished, by its log (Celery logs "Task
        name[id] received", then "… succeeded" / "… retry" / "… raised" for each)."""
        log = self._log_of.get(proc.pid)
        if log is None or not log.exists():
            return 0
        received, finished = set(), set()
        for task_id, word in _TASK_LINE.findall(log.read_bytes()):
            (received if word == b"received" else finished).add(task_id)
        return len(received - finished)

    def wait_until_busy(self, proc: subprocess.Popen[bytes], timeout: float) -> bool:
        """Watch the worker's log closely until it holds an unfinished task; False on timeout."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.unfinished_tasks(proc):
                return True
            time.sleep(0.005)
        return False

    def kill(self, proc: subprocess.Popen[bytes]) -> None:
        """kill -9 one worker and its pool, like a power cut of one machine."""
        if proc.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()
        if proc in self.procs:
            self.procs.remove(proc)

    def restart_exited(self) -> int:
        """Start a new worker for each one that exited on its own, as systemd does for
        ``deploy/systemd/heedful-worker@.service`` (``Restart=always``); returns how many.

        For outage tests: kombu's Redis transport can end the worker process while Redis goes
        away under it ('NoneType' object has no attribute 'hostname', celery/kombu#582), and
        production counts on the supervisor for that, not on the worker staying up.
        """
        exited = [proc for proc in self.procs if proc.poll() is not None]
        for proc in exited:
            self.procs.remove(proc)
            self.restarts.append(proc.returncode)
            self.start()
        return len(exited)

    def assert_alive(self) -> None:
        """A worker that exits on its own (a broken import, a bad setting) fails the test now."""
        for proc in self.procs:
            if proc.poll() is not None:
                raise AssertionError(f"worker exited with {proc.returncode}:\n{self.tail()}")

    def kill_all(self) -> None:
        for proc in self.procs:
            if proc.poll() is None:
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(proc.pid, signal.SIGKILL)
                proc.wait()
        self.procs = [p for p in self.procs if p.poll() is None]

    def stop_all(self) -> None:
        for proc in self.procs:
            if proc.poll() is None:
                os.killpg(proc.pid, signal.SIGTERM)
        for proc in self.procs:
            try:
                proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                os.killpg(proc.pid, signal.SIGKILL)
                proc.wait()
        self.procs = []

    def tail(self, n: int = 3000) -> str:
        return "\n".join(log.read_text(errors="replace")[-n:] for log in self.logs[-2:] if log.exists())

"""Keep the embedded mode's processes running: what systemd's ``Restart=on-failure`` does for a
production install, ``heedful up`` does for its own children.

A child that exits while heedful is not stopping is started again after a pause that doubles
with each exit (1, 2, 4 ... 30 s), so a worker killed by the kernel's out-of-memory killer or by
hand comes back by itself. The embedded file-system broker cannot hand out again a message a
dead worker had taken; the scheduler's sweeps re-queue that work from the database (workflow
steps, approved actions, outgoing email: ``CELERY_BEAT_SCHEDULE``). A child that keeps exiting
(``max_exits`` times within ``window`` seconds) is not a passing accident: heedful stops and
says so rather than restart it forever.
"""

from __future__ import annotations

import signal
import subprocess
import time
from collections import deque
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field


def describe_exit(code: int) -> str:
    """``exit code 3`` or ``killed by SIGKILL`` (Popen gives -N for signal N)."""
    if code < 0:
        try:
            return f"killed by {signal.Signals(-code).name}"
        except ValueError:
            return f"killed by signal {-code}"
    return f"exit code {code}"


@dataclass
class Child:
    name: str
    argv: list[str]
    process: subprocess.Popen[bytes] | None = None
    exits: deque[float] = field(default_factory=deque)
    restart_at: float | None = None


class Supervisor:
    """Start children, restart the ones that exit, stop them all together."""

    def __init__(
        self,
        children: Sequence[tuple[str, list[str]]],
        *,
        max_exits: int = 5,
        window: float = 600.0,
        echo: Callable[[str], None] = print,
        clock: Callable[[], float] = time.monotonic,
    ):
        self.children = [Child(name, list(argv)) for name, argv in children]
        self.max_exits = max_exits
        self.window = window
        self.echo = echo
        self.clock = clock

    def start(self) -> None:
        for child in self.children:
            child.process = subprocess.Popen(child.argv)  # noqa: S603 - our own command lines
        self.echo("heedful: started " + ", ".join(self._pid_of(c) for c in self.children) + ".")

    def processes(self) -> list[subprocess.Popen[bytes]]:
        return [c.process for c in self.children if c.process is not None]

    def check(self) -> str | None:
        """Restart what exited and is due; the reason to stop everything, or None."""
        now = self.clock()
        for child in self.children:
            if child.restart_at is not None:
                if now >= child.restart_at:
                    child.restart_at = None
                    child.process = subprocess.Popen(child.argv)  # noqa: S603 - as in start()
                    self.echo(f"heedful: started the {self._pid_of(child)} again.")
                continue
            code = None if child.process is None else child.process.poll()
            if code is None:
                continue
            child.exits.append(now)
            while child.exits and child.exits[0] <= now - self.window:
                child.exits.popleft()
            if len(child.exits) >= self.max_exits:
                minutes = round(self.window / 60)
                return (
                    f"heedful: the {child.name} exited {len(child.exits)} times in {minutes} minutes "
                    f"(last: {describe_exit(code)}); stopping. Its messages above say why."
                )
            delay = min(30, 2 ** (len(child.exits) - 1))
            child.restart_at = now + delay
            self.echo(
                f"heedful: the {child.name} exited ({describe_exit(code)}); starting it again in {delay} s."
            )
        return None

    def stop(self, grace: float = 20.0) -> None:
        """SIGTERM to every running child, SIGKILL to those still there after ``grace`` seconds."""
        running = [p for p in self.processes() if p.poll() is None]
        for process in running:
            process.send_signal(signal.SIGTERM)
        deadline = time.monotonic() + grace
        for process in running:
            try:
                process.wait(timeout=max(0.1, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()

    @staticmethod
    def _pid_of(child: Child) -> str:
        return f"{child.name} (pid {child.process.pid if child.process else '?'})"

"""The embedded scheduler survives a schedule file left truncated by a crash."""

from __future__ import annotations

import os
import shelve
import subprocess
import sys
import time
from pathlib import Path

# What a kill during a write left behind in a session's data directory: the index names the
# entries, the data file is empty. Celery's own scheduler died on it at every start.
TRUNCATED_INDEX = (
    "'entries', (2048, 1585)\n'__version__', (512, 20)\n'tz', (1024, 18)\n'utc_enabled', (1536, 4)\n"
)


def _truncated_schedule(data_dir: Path) -> Path:
    base = data_dir / "celerybeat-schedule"
    (data_dir / "celerybeat-schedule.dir").write_text(TRUNCATED_INDEX, encoding="latin-1")
    (data_dir / "celerybeat-schedule.bak").write_text(TRUNCATED_INDEX, encoding="latin-1")
    (data_dir / "celerybeat-schedule.dat").write_bytes(b"")
    return base


def test_the_embedded_beat_starts_a_new_schedule_when_the_file_is_truncated(tmp_path: Path) -> None:
    schedule = _truncated_schedule(tmp_path)
    env = {k: v for k, v in os.environ.items() if k not in ("DATABASE_URL", "REDIS_URL")}
    env |= {"HEEDFUL_DATA_DIR": str(tmp_path), "DJANGO_SETTINGS_MODULE": "heedful.settings"}
    log = tmp_path / "worker.log"
    with log.open("wb") as out:
        # As `heedful up` runs it: a worker with the scheduler inside, on the file-system broker.
        proc = subprocess.Popen(
            [sys.executable, "-m", "heedful.cli", "worker", "--beat", "--concurrency", "1"],
            env=env,
            stdout=out,
            stderr=subprocess.STDOUT,
        )
        try:
            deadline = time.monotonic() + 60
            while "starting a new one" not in log.read_text(errors="replace"):
                assert proc.poll() is None, log.read_text(errors="replace")[-3000:]
                assert time.monotonic() < deadline, log.read_text(errors="replace")[-3000:]
                time.sleep(0.3)
            time.sleep(2)  # the scheduler writes its new file, then ticks
            text = log.read_text(errors="replace")
            assert proc.poll() is None
            assert "Traceback" not in text, text[-3000:]
            why = "(EOFError('Ran out of input')); starting a new one"
            assert f"beat: the schedule file {schedule} could not be read {why}" in text
        finally:
            proc.terminate()
            proc.wait(timeout=30)
    with shelve.open(str(schedule), flag="r") as store:  # noqa: S301 - the file this test made
        assert {"detect-sla-breaches", "send-due-emails", "open-survey-rounds"} <= set(store["entries"])

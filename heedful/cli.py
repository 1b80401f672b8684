"""The ``heedful`` command line.

``heedful up`` is the embedded mode: one process tree (web server, Celery worker, beat,
each started again if it exits) on SQLite and a file-system broker in one data directory.
``heedful web``, ``heedful worker`` and ``heedful beat`` are the production pieces,
run separately against PostgreSQL and Redis.
"""

from __future__ import annotations

import os
import secrets
import signal
import subprocess
import sys
import time
import urllib.request
from pathlib import Path
from typing import Any

import click

from heedful.ml.commands import eval_group, ml_group

DEFAULT_PORT = 8000


def _setup_django() -> None:
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "heedful.settings")
    import django

    django.setup()


def _prepare_embedded_env(data_dir: Path, host: str, port: int) -> None:
    """Give the embedded mode what production must configure by hand: a key, hosts, a URL."""
    data_dir.mkdir(parents=True, exist_ok=True)
    key_file = data_dir / "secret_key"
    if not key_file.exists():
        key_file.write_text(secrets.token_urlsafe(50), encoding="utf-8")
        key_file.chmod(0o600)
    os.environ["HEEDFUL_DATA_DIR"] = str(data_dir)
    if not os.environ.get("SECRET_KEY"):
        os.environ.setdefault("SECRET_KEY_FILE", str(key_file))
    shown_host = "localhost" if host in ("0.0.0.0", "::", "127.0.0.1") else host  # noqa: S104 - compared, not bound
    hosts = {"localhost", "127.0.0.1", "[::1]", host}
    os.environ.setdefault("ALLOWED_HOSTS", ",".join(sorted(hosts)))
    os.environ.setdefault("SITE_URL", f"http://{shown_host}:{port}")
    os.environ.setdefault("CSRF_TRUSTED_ORIGINS", f"http://{shown_host}:{port},http://127.0.0.1:{port}")


# The embedded mode's one directory: `up` runs on it, `backup` and `restore` copy it.
_DATA_DIR_OPTION = click.option(
    "--data-dir",
    type=click.Path(file_okay=False, path_type=Path),
    envvar="HEEDFUL_DATA_DIR",
    default=Path("data"),
    show_default=True,
    help="Where the database, uploads and keys live (also HEEDFUL_DATA_DIR).",
)


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(package_name="heedful")
def main() -> None:
    """heedful: automation handles the routine so people can pay attention to people."""


@main.command()
@click.option("--demo", is_flag=True, help="Load demo data (a small shop) on first start.")
@click.option("--host", default="127.0.0.1", show_default=True, help="Address to listen on.")
@click.option("--port", default=DEFAULT_PORT, show_default=True, type=int)
@_DATA_DIR_OPTION
@click.option("--owner-email", envvar="HEEDFUL_OWNER_EMAIL", default="owner@localhost", show_default=True)
def up(demo: bool, host: str, port: int, data_dir: Path, owner_email: str) -> None:
    """Install and start heedful in the embedded mode (SQLite, no other services)."""
    from heedful.backup import BackupError, running_lock

    data_dir = data_dir.resolve()
    try:
        # Held until heedful stops: a second `up` on this directory would run a second beat
        # (every periodic job twice), and a restore would replace the database under it.
        with running_lock(data_dir):
            _start_embedded(data_dir, host, port, demo, owner_email)
    except BackupError as exc:
        raise click.ClickException(str(exc)) from None


def _start_embedded(data_dir: Path, host: str, port: int, demo: bool, owner_email: str) -> None:
    _prepare_embedded_env(data_dir, host, port)
    _setup_django()
    from django.core.management import call_command

    click.echo(f"heedful: data in {data_dir}")
    call_command("migrate", interactive=False, verbosity=0)
    call_command("collectstatic", interactive=False, verbosity=0)
    _ensure_owner(owner_email)
    if demo:
        from heedful.demo import load_demo

        report = load_demo()
        click.echo(f"heedful: {report}")
    from heedful.inbox.conf import imap

    _run_process_tree(host, port, imap_idle=bool(imap()["host"]))


def _ensure_owner(email: str) -> None:
    from django.contrib.auth.password_validation import validate_password
    from django.core.exceptions import ValidationError

    from heedful.accounts import services
    from heedful.accounts.models import User
    from heedful.accounts.roles import Role

    if User.objects.filter(role=Role.OWNER).exists():
        return
    if sys.stdin.isatty():
        email = click.prompt("Owner's email address", default=email)
        while True:
            password = click.prompt("Choose the owner's password", hide_input=True, confirmation_prompt=True)
            try:
                validate_password(password, User(email=email))
                break
            except ValidationError as exc:
                click.echo(" ".join(exc.messages), err=True)
        services.create_owner(email=email, password=password)
        click.echo(f"heedful: owner {email} created.")
    else:
        owner = services.create_owner(email=email)
        click.echo("heedful: no terminal to ask for a password, so the owner account has none yet.")
        click.echo(f"heedful: open this one-time link to choose it: {services.set_password_link(owner)}")


def _wait_until_up(url: str, processes: list[subprocess.Popen[bytes]], timeout: float = 60.0) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if any(p.poll() is not None for p in processes):
            return False
        try:
            with urllib.request.urlopen(url + "/healthz", timeout=2) as response:  # noqa: S310 - our own URL
                if response.status == 200:
                    return True
        except OSError:
            time.sleep(0.3)
    return False


def _run_process_tree(host: str, port: int, imap_idle: bool = False) -> None:
    """Start the web server, a worker and the scheduler as children (and the IMAP listener when
    a mailbox is configured), start again any that exits (heedful.supervise), stop them all
    together on Ctrl-C or SIGTERM."""
    from heedful.supervise import Supervisor

    exe = [sys.executable, "-m", "heedful.cli"]
    children = [
        ("web server", [*exe, "web", "--server", "waitress", "--host", host, "--port", str(port)]),
        ("worker", [*exe, "worker", "--concurrency", "2"]),
        # Its own process, not `worker --beat`: a scheduler that died inside the worker went
        # unnoticed (the worker kept running); here its exit is seen and it is started again.
        ("scheduler", [*exe, "beat"]),
    ]
    if imap_idle:
        children.append(("mail listener", [*exe, "imap-idle"]))
    # "the worker exited ..." and "... stopping" go to stderr, the rest to stdout.
    supervisor = Supervisor(children, echo=lambda line: click.echo(line, err=" exited " in line))
    stopping = False

    def stop(signum: int, _frame: Any) -> None:
        nonlocal stopping
        stopping = True

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    supervisor.start()
    url = os.environ["SITE_URL"]
    exit_code = 0
    local = f"http://127.0.0.1:{port}" if host in ("0.0.0.0", "::") else url  # noqa: S104
    if _wait_until_up(local, supervisor.processes()):
        click.echo(f"heedful is running at {url}  (Ctrl-C stops it)")
    elif not stopping:
        # A child that cannot even start (a port in use, a broken setting) would only fail again.
        click.echo("heedful: the web server did not come up; stopping.", err=True)
        stopping, exit_code = True, 1
    while not stopping:
        reason = supervisor.check()
        if reason:
            click.echo(reason, err=True)
            stopping, exit_code = True, 1
            break
        time.sleep(0.5)
    supervisor.stop()
    click.echo("heedful: stopped.")
    sys.exit(exit_code)


def _one_ml_thread_per_worker() -> None:
    """Serve messages side by side, one onnxruntime thread each (unless HEEDFUL_ML_THREADS says).

    The web server and the worker handle several messages at once (processes or threads), so
    the cores are already shared out; two intra-op threads per message would make them contend.
    Two processes with one thread each triaged more messages per second than one process with
    two (docs/benchmarks-text-engine.md); a single message costs ~0.4 ms more.
    """
    os.environ.setdefault("HEEDFUL_ML_THREADS", "1")


@main.command()
@click.option("--host", default="127.0.0.1", show_default=True)
@click.option("--port", default=DEFAULT_PORT, show_default=True, type=int)
@click.option("--workers", default=2, show_default=True, type=int, help="Web worker processes/threads.")
@click.option(
    "--server",
    type=click.Choice(["gunicorn", "waitress"]),
    default="gunicorn",
    show_default=True,
    help="gunicorn for production on Linux; waitress needs no fork and serves the embedded mode.",
)
def web(host: str, port: int, workers: int, server: str) -> None:
    """Serve the web UI and API (stateless; run as many as you like)."""
    _one_ml_thread_per_worker()
    _setup_django()
    if server == "waitress":
        from waitress import serve

        from heedful.wsgi import application

        serve(application, host=host, port=port, threads=max(4, workers * 4), ident="heedful")
        return
    os.execvp(  # noqa: S606 - replaces this process with gunicorn on purpose
        sys.executable,
        [
            sys.executable, "-m", "gunicorn", "heedful.wsgi:application",
            "--bind", f"{host}:{port}", "--workers", str(workers),
            "--access-logfile", "-", "--graceful-timeout", "20",
        ],
    )  # fmt: skip


@main.command()
@click.option("--concurrency", default=2, show_default=True, type=int)
@click.option("--beat", is_flag=True, help="Also run the scheduler in this process (embedded mode only).")
@click.option("--queues", default=None, help="Comma-separated queues (default: HEEDFUL_TASK_QUEUE).")
def worker(concurrency: int, beat: bool, queues: str | None) -> None:
    """Run a Celery worker (background tasks)."""
    _one_ml_thread_per_worker()
    _setup_django()
    from django.conf import settings

    from heedful.celery import app

    queues = queues or settings.CELERY_TASK_DEFAULT_QUEUE

    argv = ["worker", "--loglevel", "INFO", "--concurrency", str(concurrency), "-Q", queues]
    # The file-system broker has no broadcast: skip the start-up handshakes that need one.
    argv += ["--without-mingle", "--without-gossip"]
    if beat:
        argv.append("--beat")
    app.worker_main(argv)


@main.command("imap-idle")
def imap_idle() -> None:
    """Read new email the moment it arrives (IMAP IDLE); run one per installation."""
    _setup_django()
    import threading

    from heedful.inbox import conf, idle

    account = conf.imap()
    if not account["host"]:
        click.echo("heedful: no IMAP mailbox configured (HEEDFUL_IMAP_HOST); nothing to listen to.")
        return
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda _signum, _frame: stop.set())
    signal.signal(signal.SIGINT, lambda _signum, _frame: stop.set())
    idle.listen_forever(account, stop)


@main.command()
def beat() -> None:
    """Run the Celery beat scheduler (exactly one per installation)."""
    _setup_django()
    from heedful.celery import app

    app.start(["beat", "--loglevel", "INFO"])


@main.command()
def migrate() -> None:
    """Apply database migrations."""
    _setup_django()
    from django.core.management import call_command

    call_command("migrate", interactive=False)


@main.command("demo")
def demo_command() -> None:
    """Load the demo data (a small shop) into the configured database."""
    _setup_django()
    from heedful.demo import load_demo

    click.echo(load_demo())


@main.command("create-owner")
@click.option("--email", required=True)
def create_owner_command(email: str) -> None:
    """Create the first owner and print a one-time link to choose the password."""
    _setup_django()
    from heedful.accounts import services

    owner = services.create_owner(email=email)
    click.echo(f"Open this one-time link to choose the password: {services.set_password_link(owner)}")


@main.command(context_settings={"ignore_unknown_options": True, "allow_extra_args": True})
@click.option(
    "--data-dir",
    type=click.Path(file_okay=False, path_type=Path),
    default=None,
    help="An embedded installation's data directory (what `heedful up --data-dir` uses): its key "
    "and database are used, as `heedful up` would.",
)
@click.argument("args", nargs=-1, type=click.UNPROCESSED)
def manage(data_dir: Path | None, args: tuple[str, ...]) -> None:
    """Run a Django management command (heedful manage shell, …)."""
    if data_dir is not None:
        if not (data_dir / "secret_key").is_file():
            raise click.UsageError(f"{data_dir} is not an embedded data directory (no secret_key in it).")
        _prepare_embedded_env(data_dir, "127.0.0.1", DEFAULT_PORT)
    _setup_django()
    from django.core.management import execute_from_command_line

    execute_from_command_line(["heedful manage", *args])


@main.command()
@_DATA_DIR_OPTION
@click.option(
    "--out",
    type=click.Path(dir_okay=False, path_type=Path),
    default=None,
    help="Where to write the backup [default: heedful-backup-<UTC time>.tar.gz here].",
)
def backup(data_dir: Path, out: Path | None) -> None:
    """Back up the embedded mode's data (database, key, files) while heedful runs."""
    from importlib.metadata import version

    from heedful.backup import BackupError, make_backup

    _refuse_production("backup")
    out = out or Path(f"heedful-backup-{time.strftime('%Y%m%d-%H%M%S', time.gmtime())}.tar.gz")
    try:
        report = make_backup(data_dir.resolve(), out.resolve(), heedful_version=version("heedful"))
    except BackupError as exc:
        raise click.ClickException(str(exc)) from None
    click.echo(
        f"heedful: backed up {report.files} files ({report.bytes / 1e6:.1f} MB before compression, "
        f"{report.migrations} migrations applied) to {report.path}. It holds the secret key and "
        "everyone's personal data: keep it as safe as the server."
    )


@main.command()
@click.argument("archive", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@_DATA_DIR_OPTION
@click.option("--replace", is_flag=True, help="Move data already in the directory aside, then restore.")
def restore(archive: Path, data_dir: Path, replace: bool) -> None:
    """Restore a `heedful backup` archive into the embedded mode's data directory (heedful stopped)."""
    from heedful.backup import BackupError, restore_backup

    _refuse_production("restore")
    try:
        report = restore_backup(
            archive, data_dir.resolve(), replace=replace, known_migrations=_known_migrations()
        )
    except BackupError as exc:
        raise click.ClickException(str(exc)) from None
    aside = f" The data that was there is in {report.moved_aside}." if report.moved_aside else ""
    click.echo(
        f"heedful: restored {report.files} files from the backup of {report.created_at} into "
        f"{data_dir}.{aside} Start it with `heedful up --data-dir {data_dir}`; it applies any "
        "newer migrations first."
    )


def _refuse_production(command: str) -> None:
    if os.environ.get("DATABASE_URL"):
        raise click.ClickException(
            f"heedful {command} covers the embedded mode (SQLite). With PostgreSQL, back up the "
            "database with pg_dump (restore with pg_restore) and keep SECRET_KEY and the media "
            "directory; see docs/deploy.md."
        )


def _known_migrations() -> set[str]:
    """Every migration this installation's code has, read from disk (no database needed)."""
    # Settings refuse to load without a key; nothing is signed or served in this process.
    os.environ.setdefault("SECRET_KEY", secrets.token_urlsafe(32))
    os.environ.setdefault("ALLOWED_HOSTS", "localhost")
    _setup_django()
    from django.db.migrations.loader import MigrationLoader

    return {f"{app}.{name}" for app, name in MigrationLoader(None, ignore_no_migrations=True).disk_migrations}


main.add_command(eval_group, "eval")
main.add_command(ml_group, "ml")

if __name__ == "__main__":
    main()

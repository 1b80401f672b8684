"""Inbox benchmarks: the inbound email pipeline and the chat round trip.

    .venv/bin/python benchmarks/inbox.py            # a table
    .venv/bin/python benchmarks/inbox.py --json     # chat_p50_ms, chat_p95_ms, chat_msgs_per_s,
                                                    # inbound_msgs_per_s_sqlite, inbound_msgs_per_s_postgres

* Inbound: raw emails (plain, HTML, replies, order questions, FAQ questions) parsed, threaded,
  triaged, answered or handed off by the bot, and stored (``mail_in.ingest_email``), one after
  another, on a fresh SQLite file and on a fresh PostgreSQL database.
* Chat: the embedded mode (waitress, 8 threads, SQLite in WAL) in its own process; 50 visitors
  on loopback, each sending questions one after another; the latency is from sending a message
  to having the bot's answer in hand (the answer comes back in the same response).

Each measurement runs in a child process with its own data directory, because Django's
settings (the database) are fixed per process. PostgreSQL is skipped (null) when unreachable.
"""

from __future__ import annotations

import argparse
import http.client
import json
import os
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
PG_ADMIN_URL = os.environ.get("HEEDFUL_BENCH_POSTGRES_URL", "postgres://postgres@127.0.0.1:5432/postgres")
PG_DB = "heedful_bench_inbox"


# --- child-process setup -------------------------------------------------------------------


def _django(data_dir: str, database_url: str = "") -> None:
    os.environ.update(
        SECRET_KEY="benchmark",  # noqa: S106 - a throw-away instance
        ALLOWED_HOSTS="127.0.0.1,localhost",
        HEEDFUL_DATA_DIR=data_dir,
        HEEDFUL_HTTPS="false",
        DJANGO_SETTINGS_MODULE="heedful.settings",
        LOG_LEVEL="ERROR",
        OPENBLAS_NUM_THREADS="1",
    )
    if database_url:
        os.environ["DATABASE_URL"] = database_url
    sys.path.insert(0, str(ROOT))
    import django
    from django.core.management import call_command

    django.setup()
    call_command("migrate", verbosity=0)
    from django.conf import settings

    # The benchmark measures throughput, not the abuse limits or the bot's patience.
    settings.HEEDFUL_BOT_MAX_UNCONFIRMED_ANSWERS = 10**6
    settings.HEEDFUL_CHAT_RATE_LIMIT = 10**6
    settings.HEEDFUL_CHAT_SESSIONS_PER_IP = 10**6
    settings.HEEDFUL_BUSINESS_HOURS = "mon-sun 00:00-23:59"
    if os.environ.get("HEEDFUL_FAQ_ENCODER"):
        settings.HEEDFUL_FAQ_ENCODER = os.environ["HEEDFUL_FAQ_ENCODER"]


def _seed() -> None:
    from heedful.inbox.demo import FAQ, PRODUCTS
    from heedful.inbox.models import Order, Product
    from heedful.knowledge import matching
    from heedful.knowledge.services import create_faq_entry

    for question, variants, answer in FAQ:
        create_faq_entry(question=question, variants=variants, answer=answer, automation="benchmark")
    for sku, name, stock in PRODUCTS:
        Product.objects.create(sku=sku, name=name, stock=stock)
    Order.objects.bulk_create(
        Order(number=str(20000 + i), customer_email=f"c{i}@example.com", postcode="10115", status="shipped")
        for i in range(200)
    )
    matching.warm()


QUESTIONS = [
    "How long does shipping take?",
    "Do you ship to Austria?",
    "can I pay with paypal",
    "What are your opening hours?",
]


def _emails(n: int) -> list[bytes]:
    out = []
    for i in range(n):
        sender = f"c{i % 200}@example.com"
        kind = i % 4
        if kind == 0:
            body = QUESTIONS[i % len(QUESTIONS)]
            out.append(
                f"From: C {i} <{sender}>\r\nSubject: Question {i}\r\nMessage-ID: <b{i}@example.com>\r\n"
                "Date: Tue, 24 Nov 2026 10:00:00 +0000\r\nContent-Type: text/plain; charset=utf-8\r\n\r\n"
                f"{body}\r\n"
            )
        elif kind == 1:
            out.append(
                f"From: {sender}\r\nSubject: Where is it\r\nMessage-ID: <b{i}@example.com>\r\n"
                f"Date: Tue, 24 Nov 2026 10:00:00 +0000\r\nContent-Type: text/html; charset=utf-8\r\n\r\n"
                f"<p>Hello, where is my order <b>{20000 + i % 200}</b>?</p>\r\n"
            )
        elif kind == 2:
            out.append(
                f"From: {sender}\r\nSubject: Re: Question {i - 2}\r\nMessage-ID: <b{i}@example.com>\r\n"
                f"In-Reply-To: <b{i - 2}@example.com>\r\nReferences: <b{i - 2}@example.com>\r\n"
                "Date: Tue, 24 Nov 2026 10:00:00 +0000\r\n\r\n"
                "That is STILL not what I asked!! I need a person today.\r\n"
            )
        else:
            out.append(
                f"From: {sender}\r\nSubject: Hello\r\nMessage-ID: <b{i}@example.com>\r\n\r\n"
                "I would like to know whether you sell samples of your green teas for tasting.\r\n"
            )
    return [e.encode() for e in out]


def child_inbound(data_dir: str, database_url: str, n: int) -> dict[str, Any]:
    _django(data_dir, database_url)
    _seed()
    from heedful.inbox import mail_in

    emails = _emails(n)
    mail_in.ingest_email(_emails(1)[0].replace(b"<b0@", b"<warm@"))  # first-call imports
    start = time.perf_counter()
    for i, raw in enumerate(emails):
        mail_in.ingest_email(raw, source_key=f"bench/1/{i}")
    elapsed = time.perf_counter() - start
    return {"messages": n, "seconds": round(elapsed, 3), "msgs_per_s": round(n / elapsed, 1)}


def child_serve(data_dir: str, port: int) -> None:
    _django(data_dir)
    _seed()
    from waitress import serve

    from heedful.wsgi import application

    print("ready", flush=True)
    serve(application, host="127.0.0.1", port=port, threads=8, ident="heedful", _quiet=True)


# --- the parent: drive the children ----------------------------------------------------------


def _run_child(args: list[str]) -> dict[str, Any]:
    done = subprocess.run(
        [sys.executable, __file__, *args], capture_output=True, text=True, cwd=ROOT, check=False
    )
    if done.returncode != 0:
        raise RuntimeError(done.stderr[-3000:])
    return json.loads(done.stdout.strip().splitlines()[-1])


def _postgres_url() -> str | None:
    try:
        import psycopg

        with psycopg.connect(PG_ADMIN_URL, autocommit=True, connect_timeout=3) as conn:
            conn.execute(f"DROP DATABASE IF EXISTS {PG_DB}")
            conn.execute(f"CREATE DATABASE {PG_DB}")
    except Exception as exc:
        print(f"PostgreSQL skipped: {exc}", file=sys.stderr)
        return None
    return PG_ADMIN_URL.rsplit("/", 1)[0] + f"/{PG_DB}"


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _visitor(port: int, rounds: int, latencies: list[float], errors: list[str], think: float = 0.0) -> None:
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    headers = {"Content-Type": "application/json", "Origin": f"http://127.0.0.1:{port}"}
    conn.request("POST", "/inbox/widget/api/session", body="{}", headers=headers)
    token = json.loads(conn.getresponse().read())["token"]
    headers["X-Heedful-Visitor"] = token
    last = 0
    for i in range(rounds):
        body = json.dumps({"text": QUESTIONS[i % len(QUESTIONS)]})
        start = time.perf_counter()
        conn.request("POST", f"/inbox/widget/api/messages?after={last}", body=body, headers=headers)
        response = conn.getresponse()
        data = json.loads(response.read())
        elapsed = time.perf_counter() - start
        messages = data.get("messages", [])
        if response.status != 200 or not messages or messages[-1]["author"] != "bot":
            errors.append(f"{response.status} {str(data)[:200]}")
            continue
        last = messages[-1]["id"]
        latencies.append(elapsed)
        time.sleep(think)
    conn.close()


def chat(visitors: int, rounds: int, think_ms: int = 0) -> dict[str, Any]:
    port = _free_port()
    data_dir = tempfile.mkdtemp(prefix="heedful-bench-chat-")
    server = subprocess.Popen(
        [sys.executable, __file__, "--child-serve", data_dir, str(port)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        cwd=ROOT,
    )
    try:
        if server.stdout is None or server.stdout.readline().strip() != "ready":
            raise RuntimeError(server.stderr.read() if server.stderr else "server did not start")
        for _ in range(100):
            try:
                socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
                break
            except OSError:
                time.sleep(0.05)
        _visitor(port, 4, [], [])  # warm the server's first request
        latencies: list[float] = []
        errors: list[str] = []
        threads = [
            threading.Thread(target=_visitor, args=(port, rounds, latencies, errors, think_ms / 1000))
            for _ in range(visitors)
        ]
        start = time.perf_counter()
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        wall = time.perf_counter() - start
    finally:
        server.terminate()
        server.wait(timeout=10)
    ordered = sorted(latencies)
    return {
        "visitors": visitors,
        "messages": len(latencies),
        "errors": len(errors),
        "p50_ms": round(statistics.median(ordered) * 1000, 1),
        "p95_ms": round(ordered[int(len(ordered) * 0.95) - 1] * 1000, 1),
        "msgs_per_s": round(len(latencies) / wall, 1),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--json", action="store_true")
    parser.add_argument("--inbound", type=int, default=400, help="emails per database")
    parser.add_argument("--visitors", type=int, default=50)
    parser.add_argument("--rounds", type=int, default=10, help="messages per visitor")
    parser.add_argument("--think-ms", type=int, default=0, help="pause between a visitor's messages")
    parser.add_argument("--child-inbound", nargs=2, metavar=("DATA_DIR", "DATABASE_URL"))
    parser.add_argument("--child-serve", nargs=2, metavar=("DATA_DIR", "PORT"))
    args = parser.parse_args()
    if args.child_inbound:
        data_dir, url = args.child_inbound
        print(json.dumps(child_inbound(data_dir, "" if url == "-" else url, args.inbound)))
        return
    if args.child_serve:
        child_serve(args.child_serve[0], int(args.child_serve[1]))
        return

    sqlite = _run_child(["--inbound", str(args.inbound), "--child-inbound", tempfile.mkdtemp(), "-"])
    pg_url = _postgres_url()
    postgres = (
        _run_child(["--inbound", str(args.inbound), "--child-inbound", tempfile.mkdtemp(), pg_url])
        if pg_url
        else None
    )
    chat_result = chat(args.visitors, args.rounds, args.think_ms)
    result = {
        "chat_p50_ms": chat_result["p50_ms"],
        "chat_p95_ms": chat_result["p95_ms"],
        "chat_msgs_per_s": chat_result["msgs_per_s"],
        "inbound_msgs_per_s_sqlite": sqlite["msgs_per_s"],
        "inbound_msgs_per_s_postgres": postgres["msgs_per_s"] if postgres else None,
    }
    if args.json:
        print(json.dumps(result))
        return
    print(f"inbound, SQLite:     {sqlite['msgs_per_s']:>8} msgs/s ({sqlite['messages']} emails)")
    if postgres:
        print(f"inbound, PostgreSQL: {postgres['msgs_per_s']:>8} msgs/s ({postgres['messages']} emails)")
    print(
        f"chat, {chat_result['visitors']} visitors, think {args.think_ms} ms, embedded (waitress, SQLite): "
        f"p50 {chat_result['p50_ms']} ms, p95 {chat_result['p95_ms']} ms, "
        f"{chat_result['msgs_per_s']} msgs/s, {chat_result['errors']} errors"
    )


if __name__ == "__main__":
    main()

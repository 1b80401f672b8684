"""Inbox benchmarks: the inbound email pipeline and the chat round trip.

    .venv/bin/python benchmarks/inbox.py            # a table
    .venv/bin/python benchmarks/inbox.py --json     # chat_p50_ms, chat_p95_ms, chat_msgs_per_s,
                                                    # inbound_msgs_per_s_sqlite, inbound_msgs_per_s_postgres

* Inbound: raw emails (plain, HTML, replies, order questions, FAQ questions) parsed, threaded,
  triaged, answered or handed off by the bot, and stored (``mail_in.ingest_email``), one after
  another, on a fresh SQLite file and on a fresh PostgreSQL database.
* Chat: the embedded mode (waitress with the thread count ``heedful up`` uses, SQLite in WAL) in
  its own process, driven over loopback by 50 visitors, each a thread with its own keep-alive
  connection, as the widget behaves: the visitors arrive spread over the first think time, start
  a session, then send a question, read the answer and "think" for a random pause (uniform
  between half and one and a half times ``--think-ms``, 5 s by default) before the next one;
  while thinking they poll for new messages every 2 s, as widget.js does. The questions are
  phrasings the FAQ does not contain word for word, stock and order-status questions, and
  some the bot cannot answer; each message is made unique with a greeting and a signature, so
  no cache keyed on the text (the encoder keeps the last 256) can flatter the numbers. A
  visitor whose conversation the bot handed to a person, or who was asked for details, comes
  back as a new visitor for the next question, so the bot always has something to do.
  "Answer visible" is the moment the POST's response, which carries the bot's answer, has
  been read in full: that is when the widget renders it. ``--think-ms 0`` is the stress row:
  every visitor sends again the moment its answer arrives, which measures capacity, not what
  a visitor feels.

Each measurement runs in a child process with its own data directory, because Django's
settings (the database) are fixed per process. PostgreSQL is skipped (null) when unreachable.
"""

from __future__ import annotations

import argparse
import http.client
import json
import math
import os
import random
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import dataclass, field
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
# What the chat visitors ask: phrasings the FAQ does not contain word for word, questions answered
# from product and order data, and a few the bot hands to a person.
CHAT_QUESTIONS = [
    "how many days does shipping usually take",
    "which countries do you ship to",
    "how can I return a teapot",
    "what is your return policy for tea?",
    "I would like a refund, how does that work",
    "when is your shop open?",
    "are you open on saturdays",
    "do you take credit cards",
    "can I pay by invoice as a business",
    "what payment options do you have",
    "how hot should the water be for sencha",
    "how long should I steep green tea?",
    "can I still cancel my order",
    "I ordered the wrong tea, can I change it",
    "is the Sencha Kagoshima in stock?",
    "do you have Jasmine Pearls in stock",
    "where is my order 20017? my postcode is 10115",
    "status of order 20042, postcode 10115 please",
    "do you have a discount for cafés buying in bulk?",
    "my parcel arrived damaged, what now?",
]
GREETINGS = ["", "Hi! ", "Hello, ", "Hey, quick question: "]
SIGN_OFFS = ["", " Thanks!", " Thank you.", " Best, {name}"]
NAMES = ["Anna", "Ben", "Chloe", "David", "Emma", "Felix", "Greta", "Hugo", "Ida", "Jonas", "Mia", "Noah"]


def _unique_text(rng: random.Random, seen: set[str]) -> str:
    while True:
        sign_off = rng.choice(SIGN_OFFS).format(name=f"{rng.choice(NAMES)} {rng.randint(1, 999)}")
        text = rng.choice(GREETINGS) + rng.choice(CHAT_QUESTIONS) + sign_off
        if text not in seen:
            seen.add(text)
            return text


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


def child_serve(data_dir: str, port: int, threads: int) -> None:
    _django(data_dir)
    _seed()
    from waitress import serve

    from heedful.wsgi import application

    print("ready", flush=True)
    serve(application, host="127.0.0.1", port=port, threads=threads, ident="heedful", _quiet=True)


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


POLL_S = 2.0  # widget.js polls this often while the chat is open


@dataclass
class ChatLog:
    latencies: list[float] = field(default_factory=list)
    polls: list[float] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)
    answers: int = 0  # bot replies with the feedback buttons: answers from the FAQ or shop data
    other_replies: int = 0  # hand-offs and requests for details
    sessions: int = 0
    texts: set[str] = field(default_factory=set)
    lock: threading.Lock = field(default_factory=threading.Lock)


def _session(conn: http.client.HTTPConnection, headers: dict[str, str], log: ChatLog) -> dict[str, str]:
    log.sessions += 1
    conn.request("POST", "/inbox/widget/api/session", body="{}", headers=headers)
    return headers | {"X-Heedful-Visitor": json.loads(conn.getresponse().read())["token"]}


def _visitor(port: int, rounds: int, log: ChatLog, think: float, seed: int) -> None:
    rng = random.Random(seed)
    time.sleep(rng.uniform(0, think))  # visitors arrive spread out, not all in the same instant
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
    plain = {"Content-Type": "application/json", "Origin": f"http://127.0.0.1:{port}"}
    headers = _session(conn, plain, log)
    last = 0
    next_poll = time.monotonic() + POLL_S
    for _ in range(rounds):
        with log.lock:
            text = _unique_text(rng, log.texts)
        start = time.perf_counter()
        conn.request(
            "POST",
            f"/inbox/widget/api/messages?after={last}",
            body=json.dumps({"text": text}),
            headers=headers,
        )
        response = conn.getresponse()
        data = json.loads(response.read())
        elapsed = time.perf_counter() - start
        messages = data.get("messages", [])
        if response.status != 200 or not messages or messages[-1]["author"] != "bot":
            log.errors.append(f"{response.status} {str(data)[:200]}")
            continue
        log.latencies.append(elapsed)
        last = messages[-1]["id"]
        if messages[-1]["actions"]:
            log.answers += 1
        else:  # handed to a person or asked for details: come back as a new visitor
            log.other_replies += 1
            headers, last = _session(conn, plain, log), 0
        if think <= 0:
            continue
        until = time.monotonic() + think * rng.uniform(0.5, 1.5)
        while (now := time.monotonic()) < until:
            if next_poll > until:
                time.sleep(until - now)
                break
            time.sleep(max(0.0, next_poll - now))
            start = time.perf_counter()
            conn.request("GET", f"/inbox/widget/api/messages?after={last}", headers=headers)
            polled = conn.getresponse()
            polled.read()
            log.polls.append(time.perf_counter() - start)
            if polled.status != 200:
                log.errors.append(f"poll {polled.status}")
            next_poll = time.monotonic() + POLL_S
    conn.close()


def _cpu_seconds(pid: int) -> float:
    """User + system CPU time of a process so far (Linux), to tell cost apart from waiting."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return float("nan")
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def _p95(values: list[float]) -> float:
    ordered = sorted(values)
    return ordered[max(0, math.ceil(len(ordered) * 0.95) - 1)]


def chat(visitors: int, rounds: int, think_ms: int = 5000, threads: int = 8) -> dict[str, Any]:
    port = _free_port()
    data_dir = tempfile.mkdtemp(prefix="heedful-bench-chat-")
    server = subprocess.Popen(
        [sys.executable, __file__, "--threads", str(threads), "--child-serve", data_dir, str(port)],
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
        log = ChatLog()
        _visitor(port, 4, ChatLog(texts=log.texts), 0.0, -1)  # warm the server's first requests
        workers = [
            threading.Thread(target=_visitor, args=(port, rounds, log, think_ms / 1000, i))
            for i in range(visitors)
        ]
        load = os.getloadavg()[0]
        cpu_before = _cpu_seconds(server.pid)
        start = time.perf_counter()
        for t in workers:
            t.start()
        for t in workers:
            t.join()
        wall = time.perf_counter() - start
        cpu = _cpu_seconds(server.pid) - cpu_before
    finally:
        server.terminate()
        server.wait(timeout=10)
    return {
        "visitors": visitors,
        "think_ms": think_ms,
        "threads": threads,
        "answers": log.answers,
        "other_replies": log.other_replies,
        "messages": len(log.latencies),
        "polls": len(log.polls),
        "errors": len(log.errors),
        "p50_ms": round(statistics.median(log.latencies) * 1000, 1),
        "p95_ms": round(_p95(log.latencies) * 1000, 1),
        "poll_p95_ms": round(_p95(log.polls) * 1000, 1) if log.polls else None,
        "msgs_per_s": round(len(log.latencies) / wall, 1),
        # The server's CPU per request (sessions, messages, polls): the cost, whatever the wait.
        "server_cpu_ms_per_request": round(
            cpu * 1000 / max(1, log.sessions + len(log.latencies) + len(log.polls)), 1
        ),
        "load_before": round(load, 2),
        "load_after": round(os.getloadavg()[0], 2),
    }


def _median_of(runs: list[dict[str, Any]], key: str) -> Any:
    values = [r[key] for r in runs if r.get(key) is not None]
    return round(statistics.median(values), 1) if values else None


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--json", action="store_true")
    parser.add_argument("--only", choices=["chat", "inbound"], help="run one of the two measures")
    parser.add_argument("--repeat", type=int, default=1, help="runs of each measure; medians are reported")
    parser.add_argument("--inbound", type=int, default=400, help="emails per database")
    parser.add_argument("--visitors", type=int, default=50)
    parser.add_argument("--rounds", type=int, default=10, help="messages per visitor")
    parser.add_argument("--think-ms", type=int, default=5000, help="mean pause between a visitor's messages")
    parser.add_argument("--threads", type=int, default=8, help="waitress threads (heedful up uses 8)")
    parser.add_argument("--child-inbound", nargs=2, metavar=("DATA_DIR", "DATABASE_URL"))
    parser.add_argument("--child-serve", nargs=2, metavar=("DATA_DIR", "PORT"))
    args = parser.parse_args()
    if args.child_inbound:
        data_dir, url = args.child_inbound
        print(json.dumps(child_inbound(data_dir, "" if url == "-" else url, args.inbound)))
        return
    if args.child_serve:
        child_serve(args.child_serve[0], int(args.child_serve[1]), args.threads)
        return

    load_before = os.getloadavg()[0]
    sqlite_runs: list[dict[str, Any]] = []
    pg_runs: list[dict[str, Any]] = []
    chat_runs: list[dict[str, Any]] = []
    for _ in range(args.repeat):
        if args.only != "chat":
            sqlite_runs.append(
                _run_child(["--inbound", str(args.inbound), "--child-inbound", tempfile.mkdtemp(), "-"])
            )
            pg_url = _postgres_url()
            if pg_url:
                pg_runs.append(
                    _run_child(
                        ["--inbound", str(args.inbound), "--child-inbound", tempfile.mkdtemp(), pg_url]
                    )
                )
        if args.only != "inbound":
            chat_runs.append(chat(args.visitors, args.rounds, args.think_ms, args.threads))
    result = {
        "chat_p50_ms": _median_of(chat_runs, "p50_ms"),
        "chat_p95_ms": _median_of(chat_runs, "p95_ms"),
        "chat_msgs_per_s": _median_of(chat_runs, "msgs_per_s"),
        "inbound_msgs_per_s_sqlite": _median_of(sqlite_runs, "msgs_per_s"),
        "inbound_msgs_per_s_postgres": _median_of(pg_runs, "msgs_per_s"),
    }
    summary = summarise(chat_runs, sqlite_runs, pg_runs)
    if args.json:
        print(json.dumps(result))
    else:
        _print_runs(chat_runs, sqlite_runs, pg_runs)
        print()
        print(summary)
    if args.only:
        print("(one measure only: docs/benchmarks.md keeps the last full run's figures)", file=sys.stderr)
        return
    import report

    report.write_block(
        "inbox",
        "\n".join(["### Inbox (issue 4)", "", report.stamp(load_before), "", summary]),
        command="benchmarks/inbox.py",
    )


def _print_runs(
    chat_runs: list[dict[str, Any]], sqlite_runs: list[dict[str, Any]], pg_runs: list[dict[str, Any]]
) -> None:
    for run in sqlite_runs:
        print(f"inbound, SQLite:     {run['msgs_per_s']:>8} msgs/s ({run['messages']} emails)")
    for run in pg_runs:
        print(f"inbound, PostgreSQL: {run['msgs_per_s']:>8} msgs/s ({run['messages']} emails)")
    for run in chat_runs:
        print(
            f"chat, {run['visitors']} visitors, think {run['think_ms']} ms, "
            f"waitress {run['threads']} threads, SQLite: p50 {run['p50_ms']} ms, p95 {run['p95_ms']} ms, "
            f"{run['msgs_per_s']} msgs/s "
            f"({run['messages']} messages, {run['polls']} polls with p95 {run['poll_p95_ms']} ms, "
            f"{run['errors']} errors, {run['answers']} answers + {run['other_replies']} hand-offs/asks, "
            f"server CPU {run['server_cpu_ms_per_request']} ms per request, "
            f"load {run['load_before']} -> {run['load_after']})"
        )


def summarise(
    chat_runs: list[dict[str, Any]], sqlite_runs: list[dict[str, Any]], pg_runs: list[dict[str, Any]]
) -> str:
    """The figures as a markdown table: medians, each run, and the issue's target."""
    import report

    def row(label: str, runs: list[dict[str, Any]], key: str, target: str = "") -> list[str]:
        if not runs:
            return [label, "not measured", "", target]
        each = ", ".join(str(run[key]) for run in runs)
        return [label, str(_median_of(runs, key)), each, target]

    rows = [
        row("chat, answer visible: p50 ms", chat_runs, "p50_ms"),
        row("chat, answer visible: p95 ms", chat_runs, "p95_ms", "≤ 50 ms"),
        row("chat: messages/s", chat_runs, "msgs_per_s"),
        row("chat: server CPU ms per request", chat_runs, "server_cpu_ms_per_request"),
        row("chat: poll p95 ms", chat_runs, "poll_p95_ms"),
        row("chat: errors", chat_runs, "errors", "0"),
        row("inbound email parsed, triaged, stored — SQLite: messages/s", sqlite_runs, "msgs_per_s"),
        row("inbound — PostgreSQL: messages/s", pg_runs, "msgs_per_s"),
    ]
    p95 = _median_of(chat_runs, "p95_ms")
    if p95 is not None:
        rows[1][3] += " — met" if p95 <= 50 else " — **missed**"
    runs = max(len(chat_runs), len(sqlite_runs), 1)
    table = report.table(["measure", f"median of {runs}", "runs", "target"], rows)
    if chat_runs:
        first = chat_runs[0]
        table += (
            f"\n\nChat: {first['visitors']} visitors, {first['think_ms']} ms mean think time, "
            f"waitress {first['threads']} threads, SQLite."
        )
    return table


if __name__ == "__main__":
    main()

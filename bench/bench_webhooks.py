"""Webhooks: delivery throughput to a receiver on loopback (issue 9: at least 1,000 events a
second).

    .venv/bin/python bench/bench_webhooks.py [--db sqlite|postgres|both] [--events 20000]
        [--subjects 200] [--concurrency 16] [--json PATH]

Each database runs in a child process on a fresh, migrated database (PostgreSQL:
`rollbook_bench_webhooks`, created and dropped here). The receiver is a process of its own
(http.server's ThreadingHTTPServer, HTTP/1.1 keep-alive, answering 200 at once), so that it
does not share this process's interpreter lock. Setup (not timed): one subscription, then
--events audit rows over --subjects subjects, committed and numbered. Timed: one
`webhooks.api.deliver(subscription)` call from the first event to the last (what the Celery
task does), and the receiver's count of requests is checked against the events.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))
import common

PG_DATABASE = "rollbook_bench_webhooks"
RECEIVER = """
import sys, threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
count = 0
lock = threading.Lock()
class H(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    def do_POST(self):
        global count
        self.rfile.read(int(self.headers.get("Content-Length", "0")))
        with lock:
            count += 1
        self.send_response(200)
        self.send_header("Content-Length", "0")
        self.end_headers()
    def do_GET(self):
        body = str(count).encode()
        self.send_response(200)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)
    def log_message(self, *args):
        pass
server = ThreadingHTTPServer(("127.0.0.1", 0), H)
server.daemon_threads = True
print(server.server_address[1], flush=True)
server.serve_forever()
"""


def received(port: int) -> int:
    import http.client

    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
    try:
        conn.request("GET", "/")
        return int(conn.getresponse().read())
    finally:
        conn.close()


def main(db: str, args: argparse.Namespace) -> dict[str, Any]:
    os.environ["ROLLBOOK_WEBHOOKS_ALLOW_PRIVATE"] = "true"
    os.environ["ROLLBOOK_WEBHOOKS_CONCURRENCY"] = str(args.concurrency)
    common.PG_DATABASE = PG_DATABASE
    receiver = subprocess.Popen(  # noqa: S603 (our own code)
        [sys.executable, "-c", RECEIVER], stdout=subprocess.PIPE
    )
    try:
        assert receiver.stdout is not None
        port = int(receiver.stdout.readline())
        with common.django_on(db):
            from django.db import transaction

            from rollbook.audit import api as audit
            from rollbook.audit.data import Actor
            from rollbook.webhooks import api as webhooks
            from rollbook.webhooks import dispatcher

            # Timed here, in the foreground: the after-commit dispatch to a background
            # thread is off (it would take the subscription's lock first).
            dispatcher.request_delivery = lambda: None  # type: ignore[assignment]
            actor = Actor.system("bench")
            sub = webhooks.create_subscription(f"http://127.0.0.1:{port}/hook", actor=actor)
            started = time.perf_counter()
            for start in range(0, args.events, 5000):
                with transaction.atomic():
                    audit.record_many(
                        [
                            ("enrollment.updated", f"user:u{n % args.subjects}", None, {"n": n})
                            for n in range(start, min(args.events, start + 5000))
                        ],
                        actor=actor,
                    )
            audit.sequence_events()
            setup = time.perf_counter() - started
            started = time.perf_counter()
            delivered = webhooks.deliver(sub.uuid)
            seconds = time.perf_counter() - started
            got = received(port)
            status = webhooks.subscription_status(sub.uuid)
        result = {
            "events": args.events,
            "subjects": args.subjects,
            "concurrency": args.concurrency,
            "delivered": delivered,
            "received": got,
            "lag_after": status.lag,
            "setup_seconds": round(setup, 2),
            "seconds": round(seconds, 3),
            "events_per_second": round(delivered / seconds, 1) if seconds else None,
            "target_events_per_second": 1000,
        }
        assert got >= args.events, result
        print(json.dumps({db: result}, indent=2))
        return result
    finally:
        receiver.kill()
        receiver.wait()


def cli() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--db", choices=[*common.DATABASES, "both"], default="both")
    parser.add_argument("--events", type=int, default=20_000)
    parser.add_argument("--subjects", type=int, default=200)
    parser.add_argument("--concurrency", type=int, default=16)
    parser.add_argument("--json", type=Path)
    args = parser.parse_args()
    results: dict[str, Any] = {}
    if args.db == "both":
        for db in common.DATABASES:
            with tempfile.TemporaryDirectory(prefix="rollbook-bench-") as tmp:
                out = Path(tmp) / "result.json"
                command = [sys.executable, sys.argv[0], "--db", db, "--json", str(out)]
                command += ["--events", str(args.events), "--subjects", str(args.subjects)]
                command += ["--concurrency", str(args.concurrency)]
                subprocess.run(command, check=True)  # noqa: S603 (our own script)
                results.update(json.loads(out.read_text()))
    else:
        results[args.db] = main(args.db, args)
    if args.json:
        args.json.write_text(json.dumps(results, indent=2, default=str))


if __name__ == "__main__":
    cli()

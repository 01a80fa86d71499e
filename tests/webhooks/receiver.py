"""A real webhook receiver on loopback: http.server, in a thread (`Receiver`) or as a
process of its own (`python receiver.py PORT LOG`, killed with SIGKILL by the reliability
test). It records every request it gets and answers what its `answer` function says."""

from __future__ import annotations

import json
import os
import sys
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any


@dataclass(frozen=True)
class Received:
    seq: int
    subject: str
    type: str
    headers: dict[str, str]
    body: bytes

    @property
    def json(self) -> dict[str, Any]:
        data: dict[str, Any] = json.loads(self.body)
        return data


Answer = Callable[[Received, int], int]  # (the request, how many times its seq came) -> status


class Receiver:
    """A ThreadingHTTPServer on 127.0.0.1 in a thread; `url`, `requests`, `answer`."""

    def __init__(self, answer: Answer | None = None) -> None:
        self.answer: Answer = answer or (lambda request, times: 200)
        self.requests: list[Received] = []
        self.lock = threading.Lock()
        self.seen: dict[int, int] = {}
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"  # keep-alive, as real receivers do

            def do_POST(self) -> None:
                length = int(self.headers.get("Content-Length", "0"))
                body = self.rfile.read(length)
                data = json.loads(body)
                got = Received(
                    int(data["seq"]), data["subject"], data["type"], dict(self.headers), body
                )
                with receiver.lock:
                    receiver.seen[got.seq] = receiver.seen.get(got.seq, 0) + 1
                    times = receiver.seen[got.seq]
                    status = receiver.answer(got, times)
                    receiver.requests.append(got)
                self.send_response(status)
                if 300 <= status < 400:
                    self.send_header("Location", "http://127.0.0.1:9/elsewhere")
                self.send_header("Content-Length", "2")
                self.end_headers()
                self.wfile.write(b"ok")

            def log_message(self, format: str, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server.server_address[1]}/hook"

    def seqs(self) -> list[int]:
        with self.lock:
            return [r.seq for r in self.requests]

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


def serve_logging(port: int, log_path: str, delay: float = 0.0) -> None:
    """The receiver process: every request appended to the log (`seq subject`, written before
    the answer, so that an answered request is on record) and answered 200."""
    log = os.open(log_path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)

    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def do_POST(self) -> None:
            body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
            data = json.loads(body)
            time.sleep(delay)
            os.write(
                log, f"{data['seq']} {data['subject']} {self.headers['X-Rollbook-Seq']}\n".encode()
            )
            self.send_response(200)
            self.send_header("Content-Length", "0")
            self.end_headers()

        def log_message(self, format: str, *args: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", port), Handler)
    server.daemon_threads = True
    print("listening", flush=True)
    server.serve_forever()


if __name__ == "__main__":
    serve_logging(int(sys.argv[1]), sys.argv[2], float(sys.argv[3]) if len(sys.argv) > 3 else 0)

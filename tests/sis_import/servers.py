"""Real `rollbook serve` (gunicorn) and `rollbook worker` (Celery) processes for tests.

`Rollbook` starts the processes on the database the test runs on (the test needs
`transactional_db`, so that the servers see committed data): on SQLite the file pytest-django
created, on PostgreSQL the test database, both read from `connection.settings_dict`. Each
process writes its output to a file under a temporary ROLLBOOK_DATA_DIR (the tail of it goes
into failure messages), runs in a session of its own (so that a kill reaches gunicorn's
workers too), and is killed at teardown. `kill()` sends SIGKILL to a process group and waits
for it; `start_*()` again restarts it on the same port.

With a worker, the processes share a Redis database of their own on 127.0.0.1:6379: one of
1..14 claimed with a key (`SET NX`, with an expiry), so that runs in parallel never share the
Celery queue (its name, `rollbook`, is fixed by the settings). A database holding keys other
than rollbook's and Celery's is passed over. The claim key and the keys rollbook and Celery
make there are deleted at the end. Database 0 and 15 (the Celery unit test) are never used.

Each process runs under a small watchdog that kills its session when the test process is gone,
so that a killed test run leaves no server behind.

`LmbClient` posts LMB messages over one kept-alive `http.client` connection per thread.
"""

from __future__ import annotations

import base64
import contextlib
import fnmatch
import http.client
import json
import os
import signal
import socket
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import quote

import pytest
import redis

LMB_USERNAME = "lmb"
LMB_PASSWORD = "lmb-test-secret"
LMB_PATH = "/api/v1/sis/lmb"
REDIS_SERVER = "redis://127.0.0.1:6379"
REDIS_DBS = range(1, 15)
CLAIM_KEY = "rollbook-test:claim"
CLAIM_SECONDS = 3600
# What rollbook (cache prefix, queue name) and Celery's Redis transport write in a database.
REDIS_PATTERNS = ("rollbook*", "_kombu*", "unacked*", "celery*", "*pidbox*")
START_SECONDS = 60.0
# Runs the command in the new session and kills the whole session once the test process is
# gone (killed, say): no server outlives the run that started it. Polls the parent, not
# PR_SET_PDEATHSIG, which fires when the *thread* that started the child ends.
WATCHDOG = """
import os, signal, subprocess, sys, time
parent, command = int(sys.argv[1]), sys.argv[2:]
child = subprocess.Popen(command)
while child.poll() is None:
    if os.getppid() != parent:
        os.killpg(0, signal.SIGKILL)
    time.sleep(0.5)
sys.exit(child.returncode)
"""


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def database_url() -> str:
    """The URL of the database this test runs on (pytest-django's test database)."""
    from django.db import connection

    conf = connection.settings_dict
    if connection.vendor == "sqlite":
        name = str(conf["NAME"])
        if not name or name == ":memory:" or name.startswith("file:"):
            raise RuntimeError(f"the SQLite test database is not a file ({name!r})")
        return f"sqlite:///{name}"
    if connection.vendor == "postgresql":
        user = quote(str(conf.get("USER") or ""), safe="")
        password = quote(str(conf.get("PASSWORD") or ""), safe="")
        auth = f"{user}:{password}@" if password else f"{user}@" if user else ""
        host = conf.get("HOST") or "127.0.0.1"
        port = conf.get("PORT") or 5432
        return f"postgresql://{auth}{host}:{port}/{quote(str(conf['NAME']), safe='')}"
    raise RuntimeError(f"no server test set-up for {connection.vendor}")


def rollbook_command() -> list[str]:
    script = Path(sys.executable).with_name("rollbook")
    if script.exists():
        return [str(script)]
    return [sys.executable, "-m", "rollbook.cli"]


# ---------------------------------------------------------------- Redis


@dataclass
class RedisClaim:
    """A Redis database claimed for one test's processes."""

    db: int
    token: str
    client: redis.Redis

    @property
    def url(self) -> str:
        return f"{REDIS_SERVER}/{self.db}"

    def clear(self) -> None:
        for pattern in REDIS_PATTERNS:
            for key in self.client.scan_iter(match=pattern, count=1000):
                self.client.delete(key)

    def release(self) -> None:
        self.clear()
        if self.client.get(CLAIM_KEY) == self.token.encode():
            self.client.delete(CLAIM_KEY)
        self.client.close()


def claim_redis_db() -> RedisClaim:
    token = uuid.uuid4().hex
    for db in REDIS_DBS:
        client = redis.Redis.from_url(
            f"{REDIS_SERVER}/{db}", socket_connect_timeout=3, socket_timeout=10
        )
        if client.set(CLAIM_KEY, token, nx=True, ex=CLAIM_SECONDS):
            claim = RedisClaim(db, token, client)
            foreign = [
                key
                for key in client.scan_iter(count=1000)
                if key != CLAIM_KEY.encode()
                and not any(
                    fnmatch.fnmatchcase(key.decode(errors="replace"), p) for p in REDIS_PATTERNS
                )
            ]
            if not foreign:
                claim.clear()  # what a killed run left behind in this database
                return claim
            client.delete(CLAIM_KEY)  # someone else's data: not ours to use
        client.close()
    raise RuntimeError(f"no free Redis database in {REDIS_DBS} (claimed, or holding other data)")


# ---------------------------------------------------------------- processes


@dataclass
class Proc:
    name: str
    command: list[str]
    log_path: Path
    popen: subprocess.Popen[bytes] | None = None
    starts: int = 0

    def running(self) -> bool:
        return self.popen is not None and self.popen.poll() is None

    def log_tail(self, lines: int = 40) -> str:
        try:
            text = self.log_path.read_text(errors="replace")
        except FileNotFoundError:
            return "(no output)"
        return "\n".join(text.splitlines()[-lines:])


@dataclass
class Rollbook:
    """`rollbook serve` (and optionally `rollbook worker`) on the test database."""

    data_dir: Path
    database_url: str
    workers: int = 2
    threads: int = 4
    with_worker: bool = False
    worker_concurrency: int = 2
    extra_env: dict[str, str] = field(default_factory=dict)
    port: int = 0
    redis: RedisClaim | None = None
    server: Proc | None = None
    worker: Proc | None = None

    # ------------------------------------------------------------ environment

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def env(self) -> dict[str, str]:
        env = {
            key: value
            for key, value in os.environ.items()
            if not key.startswith(("ROLLBOOK_", "CELERY_"))
        }
        env.update(
            {
                "DJANGO_SETTINGS_MODULE": "rollbook.settings",
                "ROLLBOOK_DATA_DIR": str(self.data_dir),
                "ROLLBOOK_DATABASE_URL": self.database_url,
                "ROLLBOOK_SECRET_KEY": "rollbook-test-servers",
                "ROLLBOOK_LMB_USERNAME": LMB_USERNAME,
                "ROLLBOOK_LMB_PASSWORD": LMB_PASSWORD,
                "ROLLBOOK_LOG_LEVEL": "WARNING",
                "ROLLBOOK_JOBS_RUNNER": "celery" if self.redis else "embedded",
                "PYTHONUNBUFFERED": "1",
            }
        )
        if self.redis is not None:
            env["ROLLBOOK_REDIS_URL"] = self.redis.url
        env.update(self.extra_env)
        return env

    # ------------------------------------------------------------ life cycle

    def _spawn(self, proc: Proc) -> None:
        proc.log_path.parent.mkdir(parents=True, exist_ok=True)
        with proc.log_path.open("ab") as log:
            log.write(f"\n===== start {proc.starts + 1}: {' '.join(proc.command)}\n".encode())
            log.flush()
            proc.popen = subprocess.Popen(  # noqa: S603 (our own command)
                [sys.executable, "-c", WATCHDOG, str(os.getpid()), *proc.command],
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
                env=self.env(),
                cwd=self.data_dir,
                start_new_session=True,
            )
        proc.starts += 1

    def start_server(self) -> None:
        if self.server is None:
            self.port = self.port or free_port()
            command = [*rollbook_command(), "serve", "--host", "127.0.0.1"]
            command += ["--port", str(self.port), "--workers", str(self.workers)]
            command += ["--threads", str(self.threads)]
            self.server = Proc("server", command, self.data_dir / "server.log")
        self._spawn(self.server)
        self.wait_healthy()

    def start_worker(self) -> None:
        if self.redis is None:
            raise RuntimeError("a worker needs Redis: Rollbook(with_worker=True)")
        if self.worker is None:
            command = [*rollbook_command(), "worker", "--pool", "threads"]
            command += ["--concurrency", str(self.worker_concurrency), "--loglevel", "INFO"]
            self.worker = Proc("worker", command, self.data_dir / "worker.log")
        marker = self.worker.log_path.stat().st_size if self.worker.log_path.exists() else 0
        self._spawn(self.worker)
        self._wait_for_log(self.worker, " ready.", after=marker)

    def start(self) -> Rollbook:
        if self.with_worker and self.redis is None:
            self.redis = claim_redis_db()
        self.start_server()
        if self.with_worker:
            self.start_worker()
        return self

    def wait_healthy(self, timeout: float = START_SECONDS) -> None:
        assert self.server is not None
        deadline = time.monotonic() + timeout
        while True:
            if not self.server.running():
                raise RuntimeError(
                    f"rollbook serve exited ({self.server.popen and self.server.popen.returncode})"
                    f":\n{self.server.log_tail()}"
                )
            with contextlib.suppress(OSError, http.client.HTTPException):
                status, _headers, _body = request(self.base_url, "GET", "/health", timeout=2)
                if status == 200:
                    return
            if time.monotonic() > deadline:
                tail = self.server.log_tail()
                raise RuntimeError(f"rollbook serve not healthy in {timeout}s:\n{tail}")
            time.sleep(0.1)

    def _wait_for_log(self, proc: Proc, text: str, *, after: int) -> None:
        deadline = time.monotonic() + START_SECONDS
        while True:
            with proc.log_path.open("rb") as handle:
                handle.seek(after)
                if text.encode() in handle.read():
                    return
            if not proc.running():
                raise RuntimeError(f"rollbook {proc.name} exited:\n{proc.log_tail()}")
            if time.monotonic() > deadline:
                raise RuntimeError(f"rollbook {proc.name} not ready:\n{proc.log_tail()}")
            time.sleep(0.1)

    def kill(self, which: str, sig: int = signal.SIGKILL) -> None:
        """Signal a process group ("server" or "worker") and wait until the leader is gone;
        after SIGKILL, the whole group (gunicorn's workers, Celery's threads) is gone too."""
        proc = self.server if which == "server" else self.worker
        if proc is None or proc.popen is None or proc.popen.poll() is not None:
            return
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.popen.pid, sig)
        try:
            proc.popen.wait(timeout=30)
        except subprocess.TimeoutExpired:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(proc.popen.pid, signal.SIGKILL)
            proc.popen.wait(timeout=30)
        if sig == signal.SIGKILL:
            _wait_group_gone(proc.popen.pid)

    def stop(self) -> None:
        """SIGTERM (a graceful stop), then SIGKILL for whatever is left; Redis released."""
        for which in ("worker", "server"):
            proc = self.worker if which == "worker" else self.server
            if proc is not None and proc.popen is not None:
                self.kill(which, signal.SIGTERM)
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(proc.popen.pid, signal.SIGKILL)
                _wait_group_gone(proc.popen.pid)
        if self.redis is not None:
            self.redis.release()
            self.redis = None

    def gunicorn_boots(self) -> int:
        """How many gunicorn workers were booted so far (a crashed worker is booted again)."""
        assert self.server is not None
        return self.server.log_path.read_text(errors="replace").count("Booting worker with pid")

    def logs(self) -> str:
        parts = []
        for proc in (self.server, self.worker):
            if proc is not None:
                parts.append(f"--- {proc.name} ---\n{proc.log_tail()}")
        return "\n".join(parts)


@dataclass(frozen=True)
class ProcStat:
    pid: int
    command: str
    state: str
    pgrp: int
    cpu_ticks: int  # user + system


def proc_stat(pid: int) -> ProcStat | None:
    """/proc/<pid>/stat, or None when the process is gone (or not readable)."""
    try:
        raw = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    command = raw[raw.index("(") + 1 : raw.rindex(")")]
    fields = raw[raw.rindex(")") + 2 :].split()
    ticks = int(fields[11]) + int(fields[12])  # utime, stime
    return ProcStat(pid, command, fields[0], int(fields[2]), ticks)


def proc_stats() -> Iterator[ProcStat]:
    """/proc/<pid>/stat of every process this user may read."""
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit() and (stat := proc_stat(int(entry.name))) is not None:
            yield stat


def _group_alive(pgid: int) -> bool:
    """Whether a process of the group still runs. Zombies do not count: once their parent is
    killed they wait for init to reap them, which can take a long while in a container."""
    return any(p.pgrp == pgid and p.state not in ("Z", "X") for p in proc_stats())


def _wait_group_gone(pgid: int, timeout: float = 30) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if not _group_alive(pgid):
            return
        time.sleep(0.05)
    raise RuntimeError(f"process group {pgid} still alive after {timeout}s")


@contextlib.contextmanager
def running_rollbook(data_dir: Path, **options: Any) -> Iterator[Rollbook]:
    """Rollbook's processes on the current test database, stopped on the way out."""
    rollbook = Rollbook(data_dir=data_dir, database_url=database_url(), **options)
    try:
        yield rollbook.start()
    finally:
        rollbook.stop()


@pytest.fixture
def rollbook_server(transactional_db: None, tmp_path: Path) -> Iterator[Rollbook]:
    """`rollbook serve --workers 2` (embedded processor) on the test database."""
    with running_rollbook(tmp_path / "server") as rollbook:
        yield rollbook


@pytest.fixture
def rollbook_with_worker(transactional_db: None, tmp_path: Path) -> Iterator[Rollbook]:
    """`rollbook serve --workers 2` and `rollbook worker --pool threads` through Redis."""
    with running_rollbook(tmp_path / "server", with_worker=True) as rollbook:
        yield rollbook


# ---------------------------------------------------------------- HTTP


def basic_auth(username: str = LMB_USERNAME, password: str = LMB_PASSWORD) -> str:
    return "Basic " + base64.b64encode(f"{username}:{password}".encode()).decode()


def request(
    base_url: str,
    method: str,
    path: str,
    *,
    body: bytes | None = None,
    headers: dict[str, str] | None = None,
    timeout: float = 30,
) -> tuple[int, dict[str, str], bytes]:
    """One request on a connection of its own: (status, headers, body)."""
    host, port = base_url.removeprefix("http://").split(":")
    conn = http.client.HTTPConnection(host, int(port), timeout=timeout)
    try:
        conn.request(method, path, body=body, headers=headers or {})
        response = conn.getresponse()
        return response.status, dict(response.getheaders()), response.read()
    finally:
        conn.close()


class LmbClient:
    """Posts LMB messages on one kept-alive connection (one client per thread)."""

    def __init__(self, base_url: str, *, timeout: float = 60) -> None:
        host, port = base_url.removeprefix("http://").split(":")
        self.host, self.port, self.timeout = host, int(port), timeout
        self.conn: http.client.HTTPConnection | None = None
        self.auth = basic_auth()

    def post(
        self, body: bytes, message_id: str, *, auth: str | None = None
    ) -> tuple[int, dict[str, Any]]:
        """(status, JSON body). Raises OSError / HTTPException when the connection fails
        (the connection is then dropped; the next call opens a new one)."""
        headers = {
            "Authorization": auth or self.auth,
            "RDI-Message-Id": message_id,
            "Content-Type": "application/xml",
        }
        if self.conn is None:
            self.conn = http.client.HTTPConnection(self.host, self.port, timeout=self.timeout)
        try:
            self.conn.request("POST", LMB_PATH, body=body, headers=headers)
            response = self.conn.getresponse()
            data = response.read()
            if response.getheader("Connection", "").lower() == "close":
                self.close()
        except (OSError, http.client.HTTPException):
            self.close()
            raise
        try:
            decoded = json.loads(data) if data else {}
        except ValueError:
            decoded = {"raw": data.decode(errors="replace")[:500]}
        return response.status, decoded

    def close(self) -> None:
        if self.conn is not None:
            self.conn.close()
            self.conn = None

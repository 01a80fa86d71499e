"""The `rollbook` command, run as a user runs it: a real process on its own data dir."""

from __future__ import annotations

import json
import os
import shutil
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest

ROLLBOOK = shutil.which("rollbook", path=str(Path(sys.executable).parent)) or "rollbook"


@pytest.fixture
def env(tmp_path: Path) -> dict[str, str]:
    """An embedded (SQLite) rollbook in a fresh data dir, whatever database the suite uses."""
    environment = {
        key: value for key, value in os.environ.items() if not key.startswith("ROLLBOOK_")
    }
    environment["ROLLBOOK_DATA_DIR"] = str(tmp_path / "data")
    return environment


def run(env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(  # noqa: S603
        [ROLLBOOK, *args], env=env, capture_output=True, text=True, timeout=120, check=False
    )


def test_token_create_prints_only_the_token_and_makes_the_user(env: dict[str, str]) -> None:
    assert run(env, "migrate").returncode == 0
    result = run(env, "token", "create", "Admin", "--staff")
    assert result.returncode == 0, result.stderr
    lines = result.stdout.splitlines()
    assert len(lines) == 1
    assert lines[0].startswith("rb_")
    assert len(lines[0]) > 40
    second = run(env, "token", "create", "admin")  # same user, any case: a second token
    assert second.returncode == 0
    assert second.stdout.strip() != lines[0]
    listing = run(env, "token", "list", "ADMIN")
    assert listing.returncode == 0
    assert listing.stdout.count("rb_") == 2


def test_token_create_refuses_a_bad_username(env: dict[str, str]) -> None:
    run(env, "migrate")
    result = run(env, "token", "create", "not a username")
    assert result.returncode != 0
    assert result.stdout == ""
    assert "invalid_username" in result.stderr


def test_secret_key_is_generated_once_into_the_data_dir(env: dict[str, str]) -> None:
    run(env, "migrate")
    key_file = Path(env["ROLLBOOK_DATA_DIR"]) / "secret_key"
    first = key_file.read_text()
    run(env, "manage", "check")
    assert key_file.read_text() == first
    assert len(first) >= 50


def test_demo_loads_and_is_idempotent(env: dict[str, str]) -> None:
    first = run(env, "demo")
    assert first.returncode == 0, first.stderr
    again = run(env, "demo")
    assert again.returncode == 0, again.stderr
    check = run(
        env,
        "manage",
        "shell",
        "-c",
        "from rollbook.audit.models import AuditEvent as A; "
        "from rollbook.enrollments.models import CourseEnrollment as E; "
        "print(E.objects.count(), A.objects.filter(source='demo').count())",
    )
    enrollments, audit_rows = check.stdout.splitlines()[-1].split()
    assert int(enrollments) > 5
    # Loading twice wrote nothing new: as many audit rows as after the first load.
    check_again = run(
        env,
        "manage",
        "shell",
        "-c",
        "from rollbook.audit.models import AuditEvent as A; "
        "print(A.objects.filter(source='demo').count())",
    )
    assert check_again.stdout.splitlines()[-1].strip() == audit_rows


def test_manage_passes_through_to_django(env: dict[str, str]) -> None:
    result = run(env, "manage", "check")
    assert result.returncode == 0
    assert "no issues" in result.stdout


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@pytest.fixture
def served(env: dict[str, str]) -> Iterator[tuple[str, dict[str, str]]]:
    port = _free_port()
    process = subprocess.Popen(  # noqa: S603
        [ROLLBOOK, "serve", "--port", str(port), "--workers", "1"],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            try:
                with urllib.request.urlopen(f"{base}/health", timeout=2):  # noqa: S310
                    break
            except OSError:
                time.sleep(0.3)
        else:
            pytest.fail("rollbook serve did not answer /health within 60 s")
        yield base, env
    finally:
        process.terminate()
        process.wait(timeout=30)


def _get(url: str, token: str | None = None) -> tuple[int, dict[str, object]]:
    request = urllib.request.Request(url)  # noqa: S310
    if token:
        request.add_header("Authorization", f"Bearer {token}")
    try:
        with urllib.request.urlopen(request, timeout=10) as response:  # noqa: S310
            return response.status, json.loads(response.read())
    except urllib.error.HTTPError as error:
        return error.code, json.loads(error.read())


def test_serve_migrates_then_serves_with_tokens(served: tuple[str, dict[str, str]]) -> None:
    base, env = served
    assert _get(f"{base}/health") == (200, {"status": "ok", "database": "ok"})
    status, body = _get(f"{base}/api/v1/version")
    assert status == 401
    assert body["code"] == "not_authenticated"
    token = run(env, "token", "create", "admin", "--staff").stdout.strip()
    status, body = _get(f"{base}/api/v1/version", token)
    assert status == 200
    assert body["api"] == "v1"
    status, body = _get(f"{base}/api/v1/courses", token)
    assert status == 200
    assert body == {"items": [], "count": 0, "page": 1, "page_size": 100}


def test_oneroster_client_create_list_and_revoke(env: dict[str, str]) -> None:
    assert run(env, "migrate").returncode == 0
    result = run(env, "oneroster", "client", "create", "Canvas", "--scope", "roster-core.readonly")
    assert result.returncode == 0, result.stderr
    lines = dict(line.split("=", 1) for line in result.stdout.splitlines())
    assert set(lines) == {"client_id", "client_secret"}
    listing = run(env, "oneroster", "client", "list")
    assert lines["client_id"] in listing.stdout
    assert "roster-core.readonly" in listing.stdout
    assert lines["client_secret"] not in listing.stdout
    assert run(env, "oneroster", "client", "revoke", lines["client_id"]).returncode == 0
    assert "revoked" in run(env, "oneroster", "client", "list").stdout
    bad = run(env, "oneroster", "client", "create", "X", "--scope", "everything")
    assert bad.returncode == 2
    assert "invalid_scope" in bad.stderr
    # the LTI NRPS scope by its short name (ADR 0017)
    short = "contextmembership.readonly"
    tool = run(env, "oneroster", "client", "create", "Tool", "--scope", short)
    assert tool.returncode == 0, tool.stderr
    assert (
        "https://purl.imsglobal.org/spec/lti-nrps/scope/contextmembership.readonly"
        in run(env, "oneroster", "client", "list").stdout
    )
    tombstones = run(env, "oneroster", "tombstones")
    assert tombstones.returncode == 0, tombstones.stderr
    assert "pruned 0 tombstones" in tombstones.stderr

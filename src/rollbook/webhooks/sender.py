"""One webhook request: the body, its signature, and the POST on a kept-alive connection.

The receiver's address is checked when the connection is made (not only when the subscription
is saved): the host is resolved here and the connection goes to the address that was checked,
so a name that resolves to a public address when saved and to 127.0.0.1 later is refused
(ROLLBOOK_WEBHOOKS_ALLOW_PRIVATE=true allows private addresses: tests, a receiver beside the
service). Redirects are not followed: a 3xx is a failure like any other non-2xx.
"""

from __future__ import annotations

import hashlib
import hmac
import http.client
import ipaddress
import json
import socket
import ssl
import threading
import time
import uuid
from dataclasses import dataclass
from urllib.parse import urlsplit

from django.conf import settings

from rollbook.audit.data import EventData
from rollbook.lib.errors import Invalid
from rollbook.webhooks.errors import (
    MSG_INVALID_URL,
    MSG_PRIVATE_ADDRESS,
    MSG_UNRESOLVABLE,
    WebhookErrorCode,
)

SIGNATURE_HEADER = "X-Rollbook-Signature"
USER_AGENT = "rollbook-webhooks/1"
ERROR_CHARS = 500  # of a failure's message or response body kept on the row


def signature(secret: str, body: bytes, timestamp: int) -> str:
    """`t=<unix time>,v1=<hex HMAC-SHA256 of "<t>.<body>" keyed with the secret>`."""
    mac = hmac.new(secret.encode(), f"{timestamp}.".encode() + body, hashlib.sha256)
    return f"t={timestamp},v1={mac.hexdigest()}"


def verify(secret: str, body: bytes, header: str, *, tolerance: float = 300.0) -> bool:
    """What a receiver does (the README's snippet): the MAC matches and the time is recent."""
    parts = dict(part.split("=", 1) for part in header.split(",") if "=" in part)
    try:
        timestamp = int(parts["t"])
    except (KeyError, ValueError):
        return False
    if abs(time.time() - timestamp) > tolerance:
        return False
    expected = signature(secret, body, timestamp).split("v1=", 1)[1]
    return hmac.compare_digest(expected, parts.get("v1", ""))


def body_of(event: EventData, subscription_uuid: uuid.UUID) -> bytes:
    return json.dumps(
        {
            "seq": event.seq,
            "type": event.event,
            "subject": event.subject,
            "time": event.time.isoformat(),
            "actor": event.actor_username,
            "source": event.source,
            "before": event.before,
            "after": event.after,
            "subscription": str(subscription_uuid),
        },
        separators=(",", ":"),
        default=str,
    ).encode()


# ---------------------------------------------------------------- the address


def check_url(url: str) -> tuple[str, str, int]:
    """(scheme, host, port) of an http(s) URL; Invalid otherwise."""
    parts = urlsplit(url)
    try:
        port = parts.port
    except ValueError:
        port = None
        parts = parts._replace(netloc="")
    if parts.scheme not in ("http", "https") or not parts.hostname or parts.username:
        raise Invalid(
            WebhookErrorCode.INVALID_URL, MSG_INVALID_URL.format(url=url), fields={"url": url}
        )
    return parts.scheme, parts.hostname, port or (443 if parts.scheme == "https" else 80)


def allow_private() -> bool:
    return bool(settings.WEBHOOKS["ALLOW_PRIVATE"])


def resolve(host: str, port: int) -> str:
    """The address to connect to: the host's first address, refused (Invalid) when any of its
    addresses is private, loopback, link-local or reserved and that is not allowed."""
    try:
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except OSError as exc:
        raise Invalid(
            WebhookErrorCode.INVALID_URL,
            MSG_UNRESOLVABLE.format(host=host, error=exc),
            fields={"url": host},
        ) from exc
    addresses = [str(info[4][0]) for info in infos]
    if not allow_private():
        for address in addresses:
            ip = ipaddress.ip_address(address.split("%", 1)[0])
            if not ip.is_global or ip.is_multicast:
                raise Invalid(
                    WebhookErrorCode.PRIVATE_ADDRESS,
                    MSG_PRIVATE_ADDRESS.format(host=host, address=address),
                    fields={"url": host},
                )
    return addresses[0]


class _Connection(http.client.HTTPConnection):
    """Connects to the address checked by `resolve`, whatever the name resolves to now."""

    def __init__(self, host: str, port: int, address: str, timeout: float) -> None:
        super().__init__(host, port, timeout=timeout)
        self.address = address

    def connect(self) -> None:
        self.sock = socket.create_connection((self.address, self.port), self.timeout)
        self.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)


class _TlsConnection(http.client.HTTPSConnection):
    def __init__(self, host: str, port: int, address: str, timeout: float) -> None:
        super().__init__(host, port, timeout=timeout, context=ssl.create_default_context())
        self.address = address

    def connect(self) -> None:
        sock = socket.create_connection((self.address, self.port), self.timeout)
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self.sock = self._context.wrap_socket(  # type: ignore[attr-defined]
            sock, server_hostname=self.host
        )


# ---------------------------------------------------------------- the request


@dataclass(frozen=True, slots=True)
class Outcome:
    ok: bool
    status: int | None
    error: str


_local = threading.local()


def _connection(scheme: str, host: str, port: int, timeout: float) -> http.client.HTTPConnection:
    """The thread's kept-alive connection to this receiver (one per scheme, host and port)."""
    pool: dict[tuple[str, str, int], http.client.HTTPConnection] = _local.__dict__.setdefault(
        "pool", {}
    )
    key = (scheme, host, port)
    conn = pool.get(key)
    if conn is None:
        address = resolve(host, port)
        kind = _TlsConnection if scheme == "https" else _Connection
        conn = pool[key] = kind(host, port, address, timeout)
    return conn


def _drop(scheme: str, host: str, port: int) -> None:
    pool: dict[tuple[str, str, int], http.client.HTTPConnection] = _local.__dict__.get("pool", {})
    conn = pool.pop((scheme, host, port), None)
    if conn is not None:
        conn.close()


def post(
    url: str, body: bytes, *, secret: str, seq: int, event_type: str, delivery: str
) -> Outcome:
    """POST one event; 2xx is delivered, anything else (or no answer) a failure."""
    timeout = float(settings.WEBHOOKS["TIMEOUT"])
    try:
        scheme, host, port = check_url(url)
        conn = _connection(scheme, host, port, timeout)
    except Invalid as exc:
        return Outcome(False, None, exc.message[:ERROR_CHARS])
    parts = urlsplit(url)
    path = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
    headers = {
        "Content-Type": "application/json",
        "User-Agent": USER_AGENT,
        "X-Rollbook-Seq": str(seq),
        "X-Rollbook-Event": event_type,
        "X-Rollbook-Delivery": delivery,
        SIGNATURE_HEADER: signature(secret, body, int(time.time())),
    }
    for attempt in (1, 2):
        try:
            conn.request("POST", path, body=body, headers=headers)
            response = conn.getresponse()
            text = response.read(ERROR_CHARS + 1)
            if response.will_close:
                _drop(scheme, host, port)
            else:
                response.read()  # the rest, so the connection can be used again
            if 200 <= response.status < 300:
                return Outcome(True, response.status, "")
            detail = text[:ERROR_CHARS].decode(errors="replace")
            return Outcome(False, response.status, f"HTTP {response.status}: {detail}")
        except (OSError, http.client.HTTPException) as exc:
            _drop(scheme, host, port)
            # A kept-alive connection the receiver closed meanwhile: once more on a new one.
            if attempt == 1 and isinstance(
                exc, http.client.RemoteDisconnected | ConnectionResetError | BrokenPipeError
            ):
                try:
                    conn = _connection(scheme, host, port, timeout)
                except Invalid as refused:
                    return Outcome(False, None, refused.message[:ERROR_CHARS])
                continue
            return Outcome(False, None, f"{type(exc).__name__}: {exc}"[:ERROR_CHARS])
    return Outcome(False, None, "no answer")  # pragma: no cover


def close_connections() -> None:
    for key in list(_local.__dict__.get("pool", {})):
        _drop(*key)

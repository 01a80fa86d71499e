"""HTTP Basic and Digest (RFC 7616: MD5 or SHA-256, qop=auth) for the LMB endpoint.

Nonces are stateless: the time they were made, a random salt and an HMAC of both under the
secret key, valid for five minutes, so that any web process can check a nonce another one
made. A nonce count (nc) is accepted once per nonce and client nonce: the pairs seen are kept
in the cache (Redis when configured, shared by every process) for the nonce's lifetime, so a
captured request cannot be replayed.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import re
import secrets
import time

from django.conf import settings
from django.core.cache import cache
from django.http import HttpRequest

REALM = "rollbook LMB"
NONCE_SECONDS = 300
_PARAM = re.compile(r'(\w+)\s*=\s*(?:"((?:[^"\\]|\\.)*)"|([^\s,]+))')
_HASHES = {
    "MD5": lambda text: hashlib.md5(text.encode(), usedforsecurity=False).hexdigest(),
    "SHA-256": lambda text: hashlib.sha256(text.encode()).hexdigest(),
}


def _mac(stamp: str) -> str:
    key = str(settings.SECRET_KEY).encode()
    return hmac.new(key, f"lmb-nonce:{stamp}".encode(), hashlib.sha256).hexdigest()[:32]


def make_nonce(now: float | None = None) -> str:
    stamp = f"{int(now if now is not None else time.time())}.{secrets.token_hex(8)}"
    return base64.urlsafe_b64encode(f"{stamp}:{_mac(stamp)}".encode()).decode()


def nonce_fresh(nonce: str, now: float | None = None) -> bool:
    try:
        stamp, _, mac = base64.urlsafe_b64decode(nonce.encode()).decode().partition(":")
        made = int(stamp.split(".", 1)[0])
    except (ValueError, UnicodeDecodeError):
        return False
    age = (now if now is not None else time.time()) - made
    return hmac.compare_digest(mac, _mac(stamp)) and 0 <= age <= NONCE_SECONDS


def _first_use(nonce: str, nc: str, cnonce: str) -> bool:
    """True the first time this nonce count is presented with this nonce; False on a replay."""
    key = "lmb-nc:" + hashlib.sha256(f"{nonce}:{nc.lower()}:{cnonce}".encode()).hexdigest()
    return bool(cache.add(key, 1, timeout=NONCE_SECONDS + 60))


def challenge() -> str:
    """The WWW-Authenticate value: both schemes, Basic first."""
    return (
        f'Basic realm="{REALM}", charset="UTF-8", '
        f'Digest realm="{REALM}", qop="auth", algorithm=SHA-256, nonce="{make_nonce()}", '
        f'Digest realm="{REALM}", qop="auth", algorithm=MD5, nonce="{make_nonce()}"'
    )


def authenticated(request: HttpRequest, username: str, password: str) -> bool:
    """Whether the request carries these credentials, by Basic or by Digest."""
    if not username or not password:
        return False
    scheme, _, rest = request.headers.get("Authorization", "").partition(" ")
    if scheme.lower() == "basic":
        try:
            given_user, _, given_password = base64.b64decode(rest).decode("utf-8").partition(":")
        except (ValueError, UnicodeDecodeError):
            return False
        return hmac.compare_digest(given_user, username) & hmac.compare_digest(
            given_password, password
        )
    if scheme.lower() == "digest":
        return _digest_ok(request, rest, username, password)
    return False


def _digest_ok(request: HttpRequest, header: str, username: str, password: str) -> bool:
    params = {key.lower(): quoted or bare for key, quoted, bare in _PARAM.findall(header)}
    algorithm = params.get("algorithm", "MD5").upper()
    digest = _HASHES.get(algorithm)
    needed = ("username", "realm", "nonce", "uri", "response")
    if digest is None or any(not params.get(name) for name in needed):
        return False
    if params["realm"] != REALM or not nonce_fresh(params["nonce"]):
        return False
    if params["uri"] != request.get_full_path():
        return False
    ha1 = digest(f"{username}:{REALM}:{password}")
    ha2 = digest(f"{request.method}:{params['uri']}")
    # RFC 7616 requires qop; without it (RFC 2069) a response could be replayed freely.
    if params.get("qop") != "auth" or not params.get("nc") or not params.get("cnonce"):
        return False
    expected = digest(f"{ha1}:{params['nonce']}:{params['nc']}:{params['cnonce']}:auth:{ha2}")
    valid = hmac.compare_digest(params["username"], username) & hmac.compare_digest(
        params["response"], expected
    )
    return valid and _first_use(params["nonce"], params["nc"], params["cnonce"])

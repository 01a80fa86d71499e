"""OAuth 2 client credentials (RFC 6749 section 4.4) for the OneRoster provider."""

from __future__ import annotations

import datetime as dt
import hashlib
import hmac
import secrets

from django.db import transaction

from rollbook.audit import api as audit
from rollbook.audit.data import Actor
from rollbook.lib import clock
from rollbook.oneroster.data import ALL_SCOPES, ClientData, IssuedToken, TokenGrant
from rollbook.oneroster.errors import OAuthError, OAuthErrorCode
from rollbook.oneroster.models import OAuthClient, OAuthToken

TOKEN_LIFETIME = dt.timedelta(seconds=3600)
TOKEN_PREFIX = "ort_"  # noqa: S105 (a prefix, not a secret)
MAX_CREDENTIAL_LENGTH = 200

MSG_BAD_CLIENT = "The client is unknown, revoked, or its secret is wrong."
MSG_GRANT_TYPE = "Only grant_type=client_credentials is supported."
MSG_BAD_SCOPE = "The scope {scope!r} is unknown or not granted to this client."
MSG_NO_CLIENT = "Client credentials are missing (HTTP Basic or client_id/client_secret)."


def _digest(raw: str) -> str:
    return hashlib.sha256(raw.encode()).hexdigest()


def _client_data(row: OAuthClient) -> ClientData:
    return ClientData(
        row.client_id, row.name, tuple(row.scopes.split()), row.created, row.revoked_at
    )


def create_client(
    name: str, *, actor: Actor, scopes: tuple[str, ...] = ALL_SCOPES
) -> tuple[ClientData, str]:
    """A new client and its secret; the secret is returned once and never stored."""
    unknown = [scope for scope in scopes if scope not in ALL_SCOPES]
    if unknown or not scopes:
        raise ValueError(MSG_BAD_SCOPE.format(scope=" ".join(unknown)))
    client_id = secrets.token_hex(12)
    secret = secrets.token_urlsafe(32)
    with transaction.atomic():
        row = OAuthClient.objects.create(
            client_id=client_id,
            name=name,
            secret_digest=_digest(secret),
            scopes=" ".join(scopes),
            created=clock.now(),
        )
        audit.record(
            "oneroster.client.created",
            f"oneroster-client:{client_id}",
            actor=actor,
            after={"name": name, "scopes": list(scopes)},
        )
    return _client_data(row), secret


def list_clients() -> list[ClientData]:
    return [_client_data(row) for row in OAuthClient.objects.order_by("created", "id")]


def revoke_client(client_id: str, *, actor: Actor) -> bool:
    """Revoke a client and delete its tokens; False when there is no live client of that id."""
    with transaction.atomic():
        row = OAuthClient.objects.select_for_update().filter(client_id=client_id).first()
        if row is None or row.revoked_at is not None:
            return False
        row.revoked_at = clock.now()
        row.save(update_fields=["revoked_at"])
        OAuthToken.objects.filter(client=row).delete()
        audit.record("oneroster.client.revoked", f"oneroster-client:{client_id}", actor=actor)
    return True


def issue_token(
    grant_type: str, client_id: str | None, client_secret: str | None, scope: str | None
) -> IssuedToken:
    """An access token for a client that proves its secret (RFC 6749 client credentials)."""
    if not client_id or not client_secret:
        raise OAuthError(401, OAuthErrorCode.INVALID_CLIENT, MSG_NO_CLIENT)
    if len(client_id) > MAX_CREDENTIAL_LENGTH or len(client_secret) > MAX_CREDENTIAL_LENGTH:
        raise OAuthError(401, OAuthErrorCode.INVALID_CLIENT, MSG_BAD_CLIENT)
    row = OAuthClient.objects.filter(client_id=client_id, revoked_at__isnull=True).first()
    if row is None or not hmac.compare_digest(row.secret_digest, _digest(client_secret)):
        raise OAuthError(401, OAuthErrorCode.INVALID_CLIENT, MSG_BAD_CLIENT)
    if grant_type != "client_credentials":
        raise OAuthError(400, OAuthErrorCode.UNSUPPORTED_GRANT_TYPE, MSG_GRANT_TYPE)
    allowed = row.scopes.split()
    asked = scope.split() if scope and scope.strip() else allowed
    for name in asked:
        if name not in allowed:
            raise OAuthError(400, OAuthErrorCode.INVALID_SCOPE, MSG_BAD_SCOPE.format(scope=name))
    granted = " ".join(dict.fromkeys(asked))
    raw = TOKEN_PREFIX + secrets.token_urlsafe(32)
    now = clock.now()
    OAuthToken.objects.create(
        client=row, digest=_digest(raw), scope=granted, created=now, expires_at=now + TOKEN_LIFETIME
    )
    # Expired tokens of this client go as new ones come: the table stays small.
    OAuthToken.objects.filter(client=row, expires_at__lt=now).delete()
    return IssuedToken(raw, int(TOKEN_LIFETIME.total_seconds()), granted)


def authenticate(raw: str) -> TokenGrant | None:
    """The grant of a live, unexpired token of a live client, or None. One query."""
    if not raw.startswith(TOKEN_PREFIX) or len(raw) > MAX_CREDENTIAL_LENGTH:
        return None
    row = (
        OAuthToken.objects.filter(
            digest=_digest(raw), expires_at__gt=clock.now(), client__revoked_at__isnull=True
        )
        .values_list("client__client_id", "scope")
        .first()
    )
    if row is None:
        return None
    return TokenGrant(row[0], frozenset(row[1].split()))

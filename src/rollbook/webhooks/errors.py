from __future__ import annotations

from enum import StrEnum


class WebhookErrorCode(StrEnum):
    SUBSCRIPTION_NOT_FOUND = "subscription_not_found"
    DEAD_LETTER_NOT_FOUND = "dead_letter_not_found"
    INVALID_URL = "invalid_webhook_url"
    PRIVATE_ADDRESS = "webhook_private_address"
    INVALID_SECRET = "invalid_webhook_secret"  # noqa: S105 - an error code
    INVALID_EVENT_TYPE = "invalid_event_type"
    INVALID_SEQ = "invalid_seq"
    INVALID_MAX_ATTEMPTS = "invalid_max_attempts"


MSG_SUBSCRIPTION_NOT_FOUND = "No webhook subscription {uuid}."
MSG_DEAD_LETTER_NOT_FOUND = "No dead letter #{seq} on webhook subscription {uuid}."
MSG_INVALID_URL = "'{url}' is not an http:// or https:// URL with a host."
MSG_PRIVATE_ADDRESS = (
    "{host} resolves to a private, loopback or reserved address ({address}); "
    "set ROLLBOOK_WEBHOOKS_ALLOW_PRIVATE=true to allow it."
)
MSG_UNRESOLVABLE = "{host} does not resolve: {error}"
MSG_INVALID_SECRET = "A secret has at least {min} characters."  # noqa: S105
MSG_INVALID_EVENT_TYPE = "{name!r} is not an event name or a prefix ending in *."
MSG_INVALID_SEQ = "from_seq must be at least 1."
MSG_INVALID_MAX_ATTEMPTS = "max_attempts must be 1 to {limit}."

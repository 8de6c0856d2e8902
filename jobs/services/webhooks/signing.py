"""Signing secrets and signatures per the Standard Webhooks spec, through the `standardwebhooks` package.

A secret is `whsec_` + base64 of 32 random bytes. The signature header lists one
`v1,<signature>` per secret that signs (the current one, and during a rotation's
overlap the previous one too), separated by spaces, as the spec allows: a
receiver holding either secret verifies.
"""

import base64
import secrets as random_secrets
import time
from datetime import datetime, timezone

from standardwebhooks.webhooks import Webhook

SECRET_PREFIX = "whsec_"


def secret_new() -> str:
    return SECRET_PREFIX + base64.b64encode(random_secrets.token_bytes(32)).decode()


def signing_secrets(secrets: list, *, now: float | None = None) -> list[str]:
    """The secrets that sign now, newest first: those with no expiry or one still ahead."""
    now = time.time() if now is None else now
    return [s.secret for s in secrets if s.expires_at is None or float(s.expires_at) > now]


def headers_signed(*, msg_id: str, body: str, secrets: list[str], at: datetime | None = None) -> dict:
    """The three Standard Webhooks headers for `body` sent now (or `at`)."""
    at = at or datetime.now(timezone.utc)
    signatures = " ".join(Webhook(secret).sign(msg_id=msg_id, timestamp=at, data=body) for secret in secrets)
    return {
        "webhook-id": msg_id,
        "webhook-timestamp": str(int(at.timestamp())),
        "webhook-signature": signatures,
    }

"""Signatures of webhooks (payment provider -> Partnerflow) and ISV connector calls (Partnerflow -> ISV).

The current scheme is the Standard Webhooks specification (https://www.standardwebhooks.com, the `standardwebhooks`
package): headers `webhook-id`, `webhook-timestamp` (unix seconds) and `webhook-signature` (`v1,<base64 HMAC-SHA256 of
"id.timestamp.body">`, several separated by spaces while a secret rotates), keyed with a `whsec_<base64>` secret.

The legacy scheme, `X-Partnerflow-Signature: t=<unix seconds>,v1=<hex HMAC-SHA256 of "t.body">`, is still made and
accepted during the transition that docs/webhooks.md describes, and then removed.
"""

import base64
import binascii
import hashlib
import hmac
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from secrets import token_bytes

from standardwebhooks import Webhook, WebhookVerificationError

WEBHOOK_ID = "webhook-id"
WEBHOOK_TIMESTAMP = "webhook-timestamp"
WEBHOOK_SIGNATURE = "webhook-signature"
SECRET_PREFIX = "whsec_"
SECRET_BYTES = 32  # new secrets; the specification asks for 24 to 64
# standardwebhooks' own tolerance, both ways (it is not configurable there); the legacy check uses the same.
DEFAULT_TOLERANCE_SECONDS = 300

LEGACY_SIGNATURE_HEADER = "X-Partnerflow-Signature"
LEGACY_EVENT_ID_HEADER = "X-Partnerflow-Event-Id"

# What senders write, and nothing else: the library would take "1e9" as a time and raise a bare ValueError on a
# signature without its comma; int() would take " 7", "+7" and "1_0"; compare_digest raises on non-ASCII text.
_TIMESTAMP = re.compile(r"[0-9]{1,12}")
_SIGNATURES = re.compile(r"v[0-9]+,[A-Za-z0-9+/]{1,128}={0,2}( v[0-9]+,[A-Za-z0-9+/]{1,128}={0,2}){0,9}")
_MESSAGE_ID = re.compile(r"[\x21-\x7e]{1,200}")
_HEX_SIGNATURE = re.compile(r"[0-9a-f]{64}")


class SignatureError(ValueError):
    """The signature is missing, malformed, wrong, or too old."""


# --- secrets ---------------------------------------------------------------------------------


def new_secret() -> str:
    """A fresh Standard Webhooks secret: `whsec_` and the base64 of 32 random bytes."""
    return SECRET_PREFIX + base64.b64encode(token_bytes(SECRET_BYTES)).decode()


def checked_secret(secret: str) -> str:
    """`secret` if it is a usable Standard Webhooks secret (`whsec_` + base64 of 24 to 64 bytes); else ValueError
    saying why, without repeating it."""
    if not secret.startswith(SECRET_PREFIX):
        raise ValueError(f"a webhook secret starts with {SECRET_PREFIX!r}, then the base64 of 24 to 64 random bytes")
    try:
        key = base64.b64decode(secret.removeprefix(SECRET_PREFIX), validate=True)
    except binascii.Error as error:
        raise ValueError("a webhook secret's part after 'whsec_' must be base64") from error
    if not 24 <= len(key) <= 64:
        raise ValueError(f"a webhook secret must hold 24 to 64 bytes, not {len(key)}")
    return secret


def _keyed(secret: str) -> Webhook:
    """A `whsec_` secret is base64; any other (a test's, or a legacy secret reused) is keyed by its UTF-8 bytes."""
    return Webhook(secret) if secret.startswith(SECRET_PREFIX) else Webhook(secret.encode())


# --- Standard Webhooks -----------------------------------------------------------------------


def standard_headers(secrets: Sequence[str], message_id: str, timestamp: int, body: bytes) -> dict[str, str]:
    """The three headers that sign `body` as message `message_id`, once with each secret (the current one, and during
    a rotation the previous ones too, so a receiver holding either verifies). The body must be UTF-8 (JSON is):
    Standard Webhooks signs text, and UnicodeDecodeError says otherwise."""
    if not secrets:
        raise ValueError("signing needs at least one secret")
    signed_at = datetime.fromtimestamp(timestamp, UTC)
    signatures = " ".join(_keyed(secret).sign(message_id, signed_at, body.decode()) for secret in secrets)
    return {WEBHOOK_ID: message_id, WEBHOOK_TIMESTAMP: str(timestamp), WEBHOOK_SIGNATURE: signatures}


def has_standard_headers(headers: Mapping[str, str]) -> bool:
    return any(name.lower().startswith("webhook-") for name in headers)


def verify_standard(secrets: Sequence[str], headers: Mapping[str, str], body: bytes) -> str:
    """The verified message id; SignatureError unless one of `secrets` signed `body` within the tolerance."""
    lowered = {name.lower(): value for name, value in headers.items()}
    message_id, timestamp, signature = (
        lowered.get(name, "") for name in (WEBHOOK_ID, WEBHOOK_TIMESTAMP, WEBHOOK_SIGNATURE)
    )
    if not (message_id and timestamp and signature):
        raise SignatureError(f"the {WEBHOOK_ID}, {WEBHOOK_TIMESTAMP} and {WEBHOOK_SIGNATURE} headers are required")
    if not (_MESSAGE_ID.fullmatch(message_id) and _TIMESTAMP.fullmatch(timestamp) and _SIGNATURES.fullmatch(signature)):
        raise SignatureError("the webhook headers are malformed")
    try:
        text = body.decode()
    except UnicodeDecodeError as error:
        raise SignatureError("the body is not UTF-8") from error
    for secret in secrets:
        try:
            _keyed(secret).verify(text, lowered, json_parse=False)
        except WebhookVerificationError as error:
            if "too old" in str(error) or "too new" in str(error):
                # The same for every secret: the library checks the timestamp before any signature.
                raise SignatureError(
                    f"the {WEBHOOK_TIMESTAMP} is more than {DEFAULT_TOLERANCE_SECONDS} seconds from our clock"
                ) from error
            continue  # no signature by this secret: perhaps by the next (a rotation)
        except ValueError as error:  # binascii.Error: a signature that is not base64 after all
            raise SignatureError(f"the {WEBHOOK_SIGNATURE} header is malformed") from error
        return message_id
    raise SignatureError("the signature does not match the body (nor any current webhook secret)")


@dataclass(frozen=True)
class Signing:
    """How a sender signs: Standard Webhooks with each of `secrets` (more than one during a rotation) and, while the
    transition lasts, the legacy header keyed with `legacy_secret` as well."""

    secrets: Sequence[str]
    legacy_secret: str | None = None

    def headers(self, message_id: str, timestamp: int, body: bytes) -> dict[str, str]:
        headers = standard_headers(self.secrets, message_id, timestamp, body)
        if self.legacy_secret is not None:
            headers[LEGACY_SIGNATURE_HEADER] = sign(self.legacy_secret, timestamp, body)
        return headers


# --- legacy ----------------------------------------------------------------------------------


def _digest(secret: str, timestamp: int, body: bytes) -> str:
    return hmac.new(secret.encode(), f"{timestamp}.".encode() + body, hashlib.sha256).hexdigest()


def sign(secret: str, timestamp: int, body: bytes) -> str:
    """The legacy `X-Partnerflow-Signature` value."""
    return f"t={timestamp},v1={_digest(secret, timestamp, body)}"


def verify(secret: str, header: str | None, body: bytes, now: int, tolerance: int = DEFAULT_TOLERANCE_SECONDS) -> int:
    """Checks a legacy `X-Partnerflow-Signature`: returns the signed timestamp; raises SignatureError unless the header
    signs `body` within `tolerance`."""
    if not header:
        raise SignatureError("the signature header is missing")
    parts = dict(part.split("=", 1) for part in header.split(",") if "=" in part)
    signed_at, signature = parts.get("t", ""), parts.get("v1", "")
    if not (_TIMESTAMP.fullmatch(signed_at) and _HEX_SIGNATURE.fullmatch(signature)):
        raise SignatureError("the signature header is malformed")
    timestamp = int(signed_at)
    if not hmac.compare_digest(signature, _digest(secret, timestamp, body)):
        raise SignatureError("the signature does not match the body")
    if abs(now - timestamp) > tolerance:
        raise SignatureError(f"the signature is older than {tolerance} seconds")
    return timestamp

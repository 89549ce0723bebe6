"""HMAC-SHA256 signatures for webhooks and ISV connector calls: `t=<unix seconds>,v1=<hex>` over `t.body`."""

import hashlib
import hmac

SIGNATURE_HEADER = "X-Partnerflow-Signature"
EVENT_ID_HEADER = "X-Partnerflow-Event-Id"
DEFAULT_TOLERANCE_SECONDS = 300


class SignatureError(ValueError):
    """The signature is missing, malformed, wrong, or too old."""


def _digest(secret: str, timestamp: int, body: bytes) -> str:
    return hmac.new(secret.encode(), f"{timestamp}.".encode() + body, hashlib.sha256).hexdigest()


def sign(secret: str, timestamp: int, body: bytes) -> str:
    return f"t={timestamp},v1={_digest(secret, timestamp, body)}"


def verify(secret: str, header: str | None, body: bytes, now: int, tolerance: int = DEFAULT_TOLERANCE_SECONDS) -> int:
    """Returns the signed timestamp; raises SignatureError unless the header signs `body` within `tolerance`."""
    if not header:
        raise SignatureError("the signature header is missing")
    parts = dict(part.split("=", 1) for part in header.split(",") if "=" in part)
    try:
        timestamp = int(parts["t"])
        signature = parts["v1"]
    except (KeyError, ValueError) as error:
        raise SignatureError("the signature header is malformed") from error
    if not hmac.compare_digest(signature, _digest(secret, timestamp, body)):
        raise SignatureError("the signature does not match the body")
    if abs(now - timestamp) > tolerance:
        raise SignatureError(f"the signature is older than {tolerance} seconds")
    return timestamp

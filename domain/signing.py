"""HMAC-SHA256 signatures for webhooks and ISV connector calls: `t=<unix seconds>,v1=<hex>` over `t.body`."""

import hashlib
import hmac
import re

SIGNATURE_HEADER = "X-Partnerflow-Signature"
EVENT_ID_HEADER = "X-Partnerflow-Event-Id"
DEFAULT_TOLERANCE_SECONDS = 300

# What `sign` writes, and nothing else: int() would also take " 7", "+7", "1_0" and non-ASCII digits, and
# hmac.compare_digest raises TypeError on a non-ASCII string instead of answering "no".
_TIMESTAMP = re.compile(r"[0-9]{1,12}")
_SIGNATURE = re.compile(r"[0-9a-f]{64}")


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
    signed_at, signature = parts.get("t", ""), parts.get("v1", "")
    if not (_TIMESTAMP.fullmatch(signed_at) and _SIGNATURE.fullmatch(signature)):
        raise SignatureError("the signature header is malformed")
    timestamp = int(signed_at)
    if not hmac.compare_digest(signature, _digest(secret, timestamp, body)):
        raise SignatureError("the signature does not match the body")
    if abs(now - timestamp) > tolerance:
        raise SignatureError(f"the signature is older than {tolerance} seconds")
    return timestamp

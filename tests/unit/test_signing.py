"""Webhook and connector signatures: `t=<unix seconds>,v1=<HMAC-SHA256 of "t.body">`, refused unless exact and fresh."""

import pytest

from domain.signing import DEFAULT_TOLERANCE_SECONDS, SignatureError, sign, verify

SECRET = "whsec-unit"
BODY = b'{"event_id":"evt_1","type":"payment.succeeded"}'
NOW = 1_767_225_600


def test_a_signature_verifies_with_its_secret_and_returns_the_signed_time() -> None:
    assert verify(SECRET, sign(SECRET, NOW, BODY), BODY, now=NOW) == NOW


def test_a_signature_made_with_another_secret_is_refused() -> None:
    with pytest.raises(SignatureError, match="does not match"):
        verify(SECRET, sign("another-secret", NOW, BODY), BODY, now=NOW)


def test_a_tampered_body_is_refused() -> None:
    with pytest.raises(SignatureError, match="does not match"):
        verify(SECRET, sign(SECRET, NOW, BODY), BODY.replace(b"succeeded", b"failed"), now=NOW)


def test_a_changed_timestamp_is_refused_because_the_time_is_signed_too() -> None:
    signature = sign(SECRET, NOW, BODY).replace(f"t={NOW}", f"t={NOW + 1}")

    with pytest.raises(SignatureError, match="does not match"):
        verify(SECRET, signature, BODY, now=NOW)


@pytest.mark.parametrize("age", [DEFAULT_TOLERANCE_SECONDS + 1, -(DEFAULT_TOLERANCE_SECONDS + 1)])
def test_a_signature_older_or_newer_than_the_tolerance_is_refused(age: int) -> None:
    with pytest.raises(SignatureError, match="older than"):
        verify(SECRET, sign(SECRET, NOW - age, BODY), BODY, now=NOW)


def test_a_signature_at_the_edge_of_the_tolerance_is_accepted() -> None:
    signed_at = NOW - DEFAULT_TOLERANCE_SECONDS

    assert verify(SECRET, sign(SECRET, signed_at, BODY), BODY, now=NOW) == signed_at


@pytest.mark.parametrize("header", [None, ""])
def test_a_missing_header_is_refused(header: str | None) -> None:
    with pytest.raises(SignatureError, match="missing"):
        verify(SECRET, header, BODY, now=NOW)


@pytest.mark.parametrize("header", ["garbage", f"t={NOW}", "v1=abc", "t=yesterday,v1=abc"])
def test_a_malformed_header_is_refused(header: str) -> None:
    with pytest.raises(SignatureError, match="malformed"):
        verify(SECRET, header, BODY, now=NOW)


HEX = sign(SECRET, NOW, BODY).split("v1=")[1]


def _with_signature(signature: str, timestamp: str = str(NOW)) -> str:
    return f"t={timestamp},v1={signature}"


@pytest.mark.parametrize(
    "header",
    [
        _with_signature("éé"),  # latin-1 bytes of a header, decoded: compare_digest raises TypeError on these
        _with_signature("é" * 64),
        _with_signature("z" * 64),  # not hex
        _with_signature(HEX.upper()),  # not as `sign` writes it
        _with_signature("ab" * 31),  # too short for SHA-256
        _with_signature(HEX, timestamp="١٧٦٧٢٢٥٦٠٠"),  # non-ASCII digits
        _with_signature(HEX, timestamp=f" {NOW}"),
        _with_signature(HEX, timestamp="9" * 5000),
    ],
    ids=["latin-1", "non-ascii-64", "not-hex", "upper-case", "short", "arabic-digits", "space", "huge-timestamp"],
)
def test_a_header_with_a_non_ascii_or_non_hex_part_is_refused_as_malformed(header: str) -> None:
    with pytest.raises(SignatureError, match="malformed"):
        verify(SECRET, header, BODY, now=NOW)

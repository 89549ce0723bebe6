"""Webhook and connector signatures: Standard Webhooks (with several secrets during a rotation), and the legacy
`t=<unix seconds>,v1=<HMAC-SHA256 of "t.body">`; refused unless exact and fresh."""

import time

import pytest
from standardwebhooks import Webhook

from domain.signing import (
    DEFAULT_TOLERANCE_SECONDS,
    LEGACY_SIGNATURE_HEADER,
    SignatureError,
    Signing,
    checked_secret,
    new_secret,
    sign,
    standard_headers,
    verify,
    verify_standard,
)

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


# Standard Webhooks.


def test_a_new_secret_is_a_standard_webhooks_secret_of_32_random_bytes():
    secret = new_secret()
    assert checked_secret(secret) == secret
    assert secret.startswith("whsec_") and len(secret) == len("whsec_") + 44
    assert new_secret() != secret


@pytest.mark.parametrize(
    ("secret", "message"),
    [("secret", "starts with"), ("whsec_not base64!", "base64"), ("whsec_QUJD", "24 to 64 bytes")],
)
def test_a_secret_that_is_not_whsec_base64_of_24_to_64_bytes_is_refused(secret: str, message: str):
    with pytest.raises(ValueError, match=message):
        checked_secret(secret)


def test_standard_headers_verify_with_the_standardwebhooks_package_and_with_verify_standard():
    secret, now = new_secret(), int(time.time())
    headers = standard_headers([secret], "evt_1", now, BODY)

    assert headers == {
        "webhook-id": "evt_1",
        "webhook-timestamp": str(now),
        "webhook-signature": headers["webhook-signature"],
    }
    Webhook(secret).verify(BODY, headers)
    assert verify_standard([secret], headers, BODY) == "evt_1"


def test_during_a_rotation_the_sender_signs_with_each_secret_and_the_receiver_takes_any_one():
    new, old, now = new_secret(), new_secret(), int(time.time())
    both = standard_headers([new, old], "evt_1", now, BODY)

    assert len(both["webhook-signature"].split(" ")) == 2
    assert verify_standard([old], both, BODY) == verify_standard([new], both, BODY) == "evt_1"
    assert verify_standard([new, old], standard_headers([old], "evt_1", now, BODY), BODY) == "evt_1"
    with pytest.raises(SignatureError, match="does not match"):
        verify_standard([new_secret()], both, BODY)


@pytest.mark.parametrize("offset", [-DEFAULT_TOLERANCE_SECONDS - 60, DEFAULT_TOLERANCE_SECONDS + 60])
def test_a_standard_signature_outside_the_tolerance_is_refused(offset: int):
    secret = new_secret()
    headers = standard_headers([secret], "evt_1", int(time.time()) + offset, BODY)
    with pytest.raises(SignatureError, match="seconds from our clock"):
        verify_standard([secret], headers, BODY)


def test_the_message_id_is_signed_too():
    secret = new_secret()
    headers = standard_headers([secret], "evt_1", int(time.time()), BODY) | {"webhook-id": "evt_2"}
    with pytest.raises(SignatureError, match="does not match"):
        verify_standard([secret], headers, BODY)


def test_a_body_that_is_not_utf8_is_refused_not_crashed_on():
    secret = new_secret()
    headers = standard_headers([secret], "evt_1", int(time.time()), BODY)
    with pytest.raises(SignatureError, match="not UTF-8"):
        verify_standard([secret], headers, b"\xff" + BODY)


def test_signing_adds_the_legacy_header_only_while_a_legacy_secret_is_given():
    secret, now = new_secret(), int(time.time())
    assert LEGACY_SIGNATURE_HEADER not in Signing([secret]).headers("evt_1", now, BODY)
    legacy = Signing([secret], legacy_secret=SECRET).headers("evt_1", now, BODY)
    assert verify(SECRET, legacy[LEGACY_SIGNATURE_HEADER], BODY, now=now) == now
    assert verify_standard([secret], legacy, BODY) == "evt_1"

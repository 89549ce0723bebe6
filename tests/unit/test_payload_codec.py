"""Payload encryption: what leaves the process is AES-GCM ciphertext naming its key; keys rotate; damage is refused."""

import base64
import os

import pytest
from pydantic import SecretStr
from temporalio.api.common.v1 import Payload

from payload_codec import ENCODING, KEY_ID, EncryptionCodec, PayloadDecryptionError
from settings import Settings

IBAN = b"DE89370400440532013000"
KEY_A = os.urandom(32)
KEY_B = os.urandom(32)


def plain(data: bytes = b'{"iban": "' + IBAN + b'"}') -> Payload:
    return Payload(metadata={"encoding": b"json/plain"}, data=data)


def codec_settings(keys: dict[str, bytes | str], active: str) -> Settings:
    encoded = {
        key_id: SecretStr(key if isinstance(key, str) else base64.b64encode(key).decode())
        for key_id, key in keys.items()
    }
    return Settings(payload_encryption_keys=encoded, payload_encryption_key_id=active)


async def test_a_payload_comes_back_unchanged_after_encoding_and_decoding():
    codec = EncryptionCodec({"a": KEY_A}, "a")
    original = [plain(), plain(b"2"), Payload(metadata={"encoding": b"binary/null"})]

    assert await codec.decode(await codec.encode(original)) == original


async def test_an_encrypted_payload_names_its_encoding_and_key_id_and_hides_the_plaintext():
    [encrypted] = await EncryptionCodec({"2026-11": KEY_A}, "2026-11").encode([plain()])

    assert dict(encrypted.metadata) == {"encoding": ENCODING, KEY_ID: b"2026-11"}
    assert IBAN not in encrypted.data
    assert b"json/plain" not in encrypted.data  # the original metadata is inside the ciphertext too
    assert IBAN not in encrypted.SerializeToString()


async def test_the_same_payload_encrypts_differently_each_time():
    codec = EncryptionCodec({"a": KEY_A}, "a")
    first, second = await codec.encode([plain(), plain()])

    assert first.data[:12] != second.data[:12]  # a fresh nonce per payload
    assert first.data != second.data


async def test_after_rotation_old_payloads_still_decode_and_new_ones_use_the_new_key():
    [old] = await EncryptionCodec({"a": KEY_A}, "a").encode([plain()])
    rotated = EncryptionCodec({"a": KEY_A, "b": KEY_B}, "b")

    assert await rotated.decode([old]) == [plain()]
    [new] = await rotated.encode([plain()])
    assert new.metadata[KEY_ID] == b"b"
    assert await EncryptionCodec({"b": KEY_B}, "b").decode([new]) == [plain()]


async def test_a_payload_of_an_unknown_key_id_is_refused_naming_the_id():
    [encrypted] = await EncryptionCodec({"retired": KEY_A}, "retired").encode([plain()])

    with pytest.raises(PayloadDecryptionError, match="unknown key id 'retired'"):
        await EncryptionCodec({"b": KEY_B}, "b").decode([encrypted])


async def test_tampered_data_is_refused():
    codec = EncryptionCodec({"a": KEY_A}, "a")
    [encrypted] = await codec.encode([plain()])
    flipped = bytearray(encrypted.data)
    flipped[-1] ^= 1

    with pytest.raises(PayloadDecryptionError, match="altered or is damaged"):
        await codec.decode([Payload(metadata=encrypted.metadata, data=bytes(flipped))])
    with pytest.raises(PayloadDecryptionError):
        await codec.decode([Payload(metadata=encrypted.metadata, data=b"short")])


async def test_a_payload_moved_to_another_key_id_is_refused_even_with_the_same_key():
    codec = EncryptionCodec({"a": KEY_A, "b": KEY_A}, "a")
    [encrypted] = await codec.encode([plain()])
    relabelled = Payload(metadata={"encoding": ENCODING, KEY_ID: b"b"}, data=encrypted.data)

    with pytest.raises(PayloadDecryptionError):
        await codec.decode([relabelled])


async def test_payloads_written_before_encryption_pass_through_decoding():
    unencrypted = [plain(), Payload(metadata={"encoding": b"binary/null"}), Payload()]

    assert await EncryptionCodec({"a": KEY_A}, "a").decode(unencrypted) == unencrypted


async def test_the_codec_is_built_from_settings():
    settings = codec_settings({"old": KEY_A, "new": KEY_B}, "new")
    codec = EncryptionCodec.from_settings(settings)

    [encrypted] = await codec.encode([plain()])
    assert encrypted.metadata[KEY_ID] == b"new"
    assert await EncryptionCodec({"new": KEY_B}, "new").decode([encrypted]) == [plain()]


def test_the_default_development_key_works():
    assert EncryptionCodec.from_settings(Settings()).active_key_id == Settings().payload_encryption_key_id


@pytest.mark.parametrize(
    ("keys", "active", "message"),
    [
        ({"a": os.urandom(32)}, "b", "active payload encryption key id 'b' is not among the keys"),
        ({}, "a", "active payload encryption key id 'a' is not among the keys"),
        ({"a": os.urandom(20)}, "a", "key 'a' has 20 bytes; AES-GCM needs 16, 24 or 32"),
        ({"a": "not base64!"}, "a", "key 'a' is not valid base64"),
    ],
)
def test_bad_settings_are_refused_with_a_clear_message(keys: dict[str, bytes | str], active: str, message: str):
    with pytest.raises(ValueError, match=message):
        EncryptionCodec.from_settings(codec_settings(keys, active))


@pytest.mark.parametrize("size", [16, 24, 32])
async def test_aes_128_192_and_256_keys_are_accepted(size: int):
    codec = EncryptionCodec.from_settings(codec_settings({"k": os.urandom(size)}, "k"))

    assert await codec.decode(await codec.encode([plain()])) == [plain()]


# Secrets kept at rest (the apps' signing secrets).


def test_a_sealed_secret_opens_with_its_context_and_hides_the_plaintext():
    codec = EncryptionCodec({"a": KEY_A}, "a")
    sealed = codec.seal(b"whsec_secret", "app-signing-secret:crm:1")

    assert sealed.startswith("a:") and b"whsec_secret" not in base64.b64decode(sealed.removeprefix("a:"))
    assert codec.unseal(sealed, "app-signing-secret:crm:1") == b"whsec_secret"
    assert codec.seal(b"whsec_secret", "app-signing-secret:crm:1") != sealed, "a fresh nonce each time"


@pytest.mark.parametrize("context", ["app-signing-secret:erp:1", "app-signing-secret:crm:2"])
def test_a_sealed_secret_does_not_open_for_another_app_or_generation(context: str):
    codec = EncryptionCodec({"a": KEY_A}, "a")
    sealed = codec.seal(b"whsec_secret", "app-signing-secret:crm:1")
    with pytest.raises(PayloadDecryptionError, match="altered or damaged"):
        codec.unseal(sealed, context)


def test_a_secret_sealed_with_a_retired_key_still_opens_while_that_key_is_listed():
    sealed = EncryptionCodec({"old": KEY_A}, "old").seal(b"whsec_secret", "ctx")
    assert EncryptionCodec({"old": KEY_A, "new": KEY_B}, "new").unseal(sealed, "ctx") == b"whsec_secret"
    with pytest.raises(PayloadDecryptionError, match="unknown key id 'old'"):
        EncryptionCodec({"new": KEY_B}, "new").unseal(sealed, "ctx")

"""Encryption of every Temporal payload (AES-GCM), so customer data never reaches the Temporal server in the clear.

The worker, every client and the codec endpoint use the same codec (worker.data_converter). Each encrypted
payload names the key it was encrypted with, so keys can rotate: new payloads use the active key, and every
key still listed decrypts what was written before.
"""

import base64
import binascii
import os
from collections.abc import Mapping, Sequence

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from google.protobuf.message import DecodeError
from temporalio.api.common.v1 import Payload
from temporalio.converter import PayloadCodec

from settings import Settings

ENCODING = b"binary/encrypted"
KEY_ID = "encryption-key-id"
NONCE_BYTES = 12  # AES-GCM's standard nonce; random per payload, so one key can encrypt many payloads safely
KEY_BYTES = (16, 24, 32)  # AES-128, AES-192, AES-256


class PayloadDecryptionError(ValueError):
    """A payload marked as encrypted that this codec cannot decrypt: unknown key id, or damaged data."""


class EncryptionCodec(PayloadCodec):
    """AES-GCM over the serialized payload; `keys` maps key id -> raw key, `active_key_id` encrypts."""

    def __init__(self, keys: Mapping[str, bytes], active_key_id: str) -> None:
        if active_key_id not in keys:
            raise ValueError(f"the active payload encryption key id {active_key_id!r} is not among the keys")
        for key_id, key in keys.items():
            if not key_id:
                raise ValueError("payload encryption key ids must not be empty")
            if len(key) not in KEY_BYTES:
                raise ValueError(f"payload encryption key {key_id!r} has {len(key)} bytes; AES-GCM needs 16, 24 or 32")
        self.active_key_id = active_key_id
        self._ciphers = {key_id: AESGCM(key) for key_id, key in keys.items()}

    @classmethod
    def from_settings(cls, settings: Settings) -> "EncryptionCodec":
        keys = {
            key_id: _base64_key(key_id, secret.get_secret_value())
            for key_id, secret in settings.payload_encryption_keys.items()
        }
        return cls(keys, settings.payload_encryption_key_id)

    async def encode(self, payloads: Sequence[Payload]) -> list[Payload]:
        return [self.encrypt(payload) for payload in payloads]

    async def decode(self, payloads: Sequence[Payload]) -> list[Payload]:
        return [self.decrypt(payload) for payload in payloads]

    def encrypt(self, payload: Payload) -> Payload:
        key_id = self.active_key_id.encode()
        nonce = os.urandom(NONCE_BYTES)
        # The key id is authenticated data: relabelling a payload with another key id makes it undecryptable.
        sealed = self._ciphers[self.active_key_id].encrypt(nonce, payload.SerializeToString(), key_id)
        return Payload(metadata={"encoding": ENCODING, KEY_ID: key_id}, data=nonce + sealed)

    def decrypt(self, payload: Payload) -> Payload:
        if payload.metadata.get("encoding") != ENCODING:
            return payload  # written before encryption was turned on (or by a codec-less client): leave it
        raw_key_id = payload.metadata.get(KEY_ID, b"")
        key_id = raw_key_id.decode(errors="replace")
        cipher = self._ciphers.get(key_id)
        if cipher is None:
            known = ", ".join(sorted(self._ciphers))
            raise PayloadDecryptionError(
                f"payload encrypted with unknown key id {key_id!r}; known ids: {known} (is PAYLOAD_ENCRYPTION_KEYS "
                "missing a retired key?)"
            )
        nonce, sealed = payload.data[:NONCE_BYTES], payload.data[NONCE_BYTES:]
        try:
            return Payload.FromString(cipher.decrypt(nonce, sealed, raw_key_id))
        except (InvalidTag, ValueError, DecodeError) as error:  # ValueError: data shorter than a nonce
            raise PayloadDecryptionError(
                f"payload encrypted with key id {key_id!r} cannot be decrypted: it was altered or is damaged"
            ) from error

    def seal(self, plaintext: bytes, context: str) -> str:
        """`plaintext` encrypted with the active key, to keep a secret at rest (the apps' signing secrets):
        `<key id>:<base64 of nonce and ciphertext>`. `context` names what it belongs to and is authenticated, so a
        sealed value copied to another row does not open there."""
        nonce = os.urandom(NONCE_BYTES)
        associated = f"{self.active_key_id}|{context}".encode()
        sealed = self._ciphers[self.active_key_id].encrypt(nonce, plaintext, associated)
        return f"{self.active_key_id}:{base64.b64encode(nonce + sealed).decode()}"

    def unseal(self, sealed: str, context: str) -> bytes:
        key_id, _, data = sealed.rpartition(":")
        cipher = self._ciphers.get(key_id)
        if cipher is None:
            raise PayloadDecryptionError(f"a secret sealed with unknown key id {key_id!r} (a retired key?)")
        try:
            raw = base64.b64decode(data, validate=True)
            return cipher.decrypt(raw[:NONCE_BYTES], raw[NONCE_BYTES:], f"{key_id}|{context}".encode())
        except (InvalidTag, ValueError) as error:  # ValueError: not base64, or shorter than a nonce
            raise PayloadDecryptionError(f"a secret sealed with key id {key_id!r} is altered or damaged") from error


def _base64_key(key_id: str, text: str) -> bytes:
    try:
        return base64.b64decode(text, validate=True)
    except binascii.Error as error:
        raise ValueError(f"payload encryption key {key_id!r} is not valid base64") from error

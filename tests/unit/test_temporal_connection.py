"""How the API and the worker reach Temporal: plain on one machine, TLS / mTLS / API key past it."""

from pathlib import Path

import pytest
from pydantic import SecretStr, ValidationError
from temporalio.service import TLSConfig

from settings import Settings
from worker import tls_config


def test_a_local_server_is_reached_without_tls():
    assert tls_config(Settings(_env_file=None)) is False


def test_an_api_key_turns_tls_on_with_the_system_roots():
    settings = Settings(_env_file=None, temporal_api_key=SecretStr("key-1"))

    config = tls_config(settings)

    assert isinstance(config, TLSConfig)
    assert (config.server_root_ca_cert, config.client_cert, config.client_private_key) == (None, None, None)


def test_a_client_certificate_is_sent_with_its_key_and_the_cluster_ca(tmp_path: Path):
    cert, key, ca = tmp_path / "client.pem", tmp_path / "client.key", tmp_path / "ca.pem"
    cert.write_bytes(b"CERT")
    key.write_bytes(b"KEY")
    ca.write_bytes(b"CA")
    settings = Settings(
        _env_file=None,
        temporal_tls_cert_path=cert,
        temporal_tls_key_path=key,
        temporal_tls_ca_path=ca,
        temporal_tls_server_name="temporal.internal",
    )

    config = tls_config(settings)

    assert isinstance(config, TLSConfig)
    assert (config.client_cert, config.client_private_key, config.server_root_ca_cert) == (b"CERT", b"KEY", b"CA")
    assert config.domain == "temporal.internal"


def test_a_client_certificate_without_its_key_is_refused_at_start(tmp_path: Path):
    with pytest.raises(ValidationError, match="go together"):
        Settings(_env_file=None, temporal_tls_cert_path=tmp_path / "client.pem")


def test_the_api_key_never_shows_in_a_printed_settings():
    assert "key-1" not in repr(Settings(_env_file=None, temporal_api_key=SecretStr("key-1")))


def test_empty_connection_variables_count_as_unset(monkeypatch: pytest.MonkeyPatch):
    for name in ("TEMPORAL_API_KEY", "TEMPORAL_TLS_CERT_PATH", "TEMPORAL_TLS_KEY_PATH", "TEMPORAL_TLS_CA_PATH"):
        monkeypatch.setenv(name, "")

    assert tls_config(Settings(_env_file=None)) is False

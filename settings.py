"""Configuration from the environment (docs/operations.md): one Settings object for API, worker and store."""

import os
from functools import lru_cache
from pathlib import Path
from typing import Annotated, Literal

from pydantic import BaseModel, Field, SecretStr, field_validator, model_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict

from domain.roles import Role
from domain.signing import checked_secret

DEVELOPMENT_WEBHOOK_SECRET = "whsec_cGFydG5lcmZsb3ctc2FuZGJveC1kZXZlbG9wbWVudC1vbmx5"


class ApiKeyGrant(BaseModel):
    """What an API key stands for."""

    subject: str
    roles: frozenset[Role]
    isv_id: str | None = None
    partner_id: str | None = None


class Settings(BaseSettings):
    # A refused value is not repeated in the error: it may be a secret (a webhook secret, an API key), and the
    # error reaches logs. The error still names the setting and says why.
    model_config = SettingsConfigDict(
        env_file=".env", env_file_encoding="utf-8", extra="ignore", hide_input_in_errors=True
    )

    database_url: str = "sqlite+aiosqlite:///.data/partnerflow.db"
    temporal_address: str = "localhost:7233"
    temporal_namespace: str = "default"
    # A Temporal cluster or Temporal Cloud past one machine (docs/operations.md): TLS, with a client certificate
    # (mTLS: both paths) and/or an API key (Temporal Cloud's API-key namespaces; setting one turns TLS on).
    temporal_tls: bool = False
    temporal_tls_cert_path: Path | None = None
    temporal_tls_key_path: Path | None = None
    temporal_tls_ca_path: Path | None = None
    temporal_tls_server_name: str | None = None
    temporal_api_key: SecretStr | None = Field(None, repr=False)
    task_queue: str = "partnerflow"
    # repr=False: the keys are secrets and must never reach a log line through a printed Settings.
    api_keys: dict[str, ApiKeyGrant] = Field(default_factory=dict, repr=False)
    api_host: str = "127.0.0.1"
    api_port: int = 8000
    # The main job's local state: the Temporal dev server's SQLite file and its log.
    data_dir: Path = Path(".data")
    temporal_ui_port: int = 8233
    # Payment webhooks are signed as Standard Webhooks (docs/webhooks.md) with these `whsec_` secrets, comma-separated:
    # the embedded sandbox signs with each, and the receiver takes a signature by any one (a rotation lists the new
    # secret and the old one until every sender has the new one). When a URL is set, the sandbox posts its webhooks
    # there (the main job points it at its own API).
    payment_webhook_secrets: Annotated[list[str], NoDecode] = Field(
        default_factory=lambda: [DEVELOPMENT_WEBHOOK_SECRET], repr=False
    )
    payment_webhook_url: str | None = None
    # The transition from the legacy `X-Partnerflow-Signature` (HMAC keyed with PAYMENT_WEBHOOK_SECRET): while true
    # the receiver also accepts it and the sandbox also sends it. Turn it off once no sender needs it; its default
    # becomes false after 2027-03-31, and the legacy scheme is removed in the release after that.
    payment_webhook_legacy_signature: bool = True
    payment_webhook_secret: str = Field("whsec-sandbox-development-only", repr=False)
    # ISV connector: each app's calls are signed as Standard Webhooks with a secret of that app's own (its ISV reads
    # it at GET /api/v1/apps/{app_id}/signing-secret). After a rotation the previous secret signs too, for this long.
    connector_secret_overlap_hours: float = Field(24.0, gt=0, le=24 * 30)
    # The same transition for connector calls: while true they also carry the legacy X-Partnerflow-Signature, keyed
    # with the marketplace-wide CONNECTOR_SIGNING_SECRET, and X-Partnerflow-Event-Id. Same end date.
    connector_legacy_signature: bool = True
    connector_signing_secret: str = Field("connector-development-only", repr=False)
    # Below the activities' 20 s timeout (workflows/effects.py), so a slow ISV fails the call, not the activity.
    connector_timeout_seconds: float = Field(10.0, gt=0, le=15)
    # Customer data exports produced in suspend mode; default DATA_DIR/exports.
    export_dir: Path | None = None
    # Create the monthly payout Schedule at worker start (needs a server with Schedules, not the test server).
    payout_schedule: bool = True
    # Prometheus metrics (docs/metrics.md). `python -m worker` serves the Temporal SDK's metrics at this host:port
    # (unset or empty: nowhere, so any number of workers start side by side). Each worker process on a host needs a
    # port of its own: the main job gives its N workers this port and the N-1 after it, 127.0.0.1:9464 when unset.
    worker_metrics_address: str | None = None
    # When set, the API's /metrics answers only `Authorization: Bearer <token>`; unset, it is open (it shows
    # aggregate counts only, no ids or names).
    metrics_token: SecretStr | None = Field(None, repr=False)
    # How long /metrics waits for the store and for Temporal visibility before leaving out their gauges.
    metrics_timeout_seconds: float = Field(2.0, gt=0, le=10)

    # Payload encryption (AES-GCM): key id -> base64 of a 16, 24 or 32-byte key. New payloads are encrypted with
    # the active key id; every listed key still decrypts, so keys can rotate without breaking running workflows.
    payload_encryption_keys: dict[str, SecretStr] = Field(
        default_factory=lambda: {"dev-1": SecretStr("cGFydG5lcmZsb3ctZGV2ZWxvcG1lbnQtb25seS1rZXk=")}, repr=False
    )
    payload_encryption_key_id: str = "dev-1"
    # Origins allowed to call the codec endpoint from a browser (the Temporal Web UI).
    codec_cors_origins: list[str] = Field(default_factory=lambda: ["http://localhost:8233", "http://127.0.0.1:8233"])
    # Request limits: the largest body any endpoint accepts.
    max_body_bytes: int = 65_536
    # Worker processes the main job starts (`python -m worker` each); more use more cores. Default: one per core.
    worker_processes: int = Field(default_factory=lambda: min(os.cpu_count() or 1, 32), ge=1, le=32)
    # How long a command waits for its workflow before answering without the result: 503 when the workflow has not
    # taken it up (no worker), 202 when it has and is still carrying it out (e.g. an activity waiting for the store).
    command_wait_seconds: float = Field(15.0, gt=0, le=60)
    # Traces (docs/tracing-and-logs.md): off by default. "otlp" sends OTLP over HTTP to OTLP_ENDPOINT (a collector's
    # base URL, e.g. http://localhost:4318), or else where the standard OTEL_EXPORTER_OTLP_* variables say.
    trace_exporter: Literal["none", "console", "otlp"] = "none"
    otlp_endpoint: str | None = None
    # Logs: "auto" writes JSON lines unless stderr is a terminal, where it writes readable text.
    log_format: Literal["auto", "json", "text"] = "auto"
    log_level: str = Field("INFO", pattern="(?i)^(critical|error|warning|info|debug)$")

    @field_validator("payment_webhook_secrets", mode="before")
    @classmethod
    def _comma_separated(cls, value: object) -> object:
        return [part.strip() for part in value.split(",") if part.strip()] if isinstance(value, str) else value

    @field_validator("payment_webhook_secrets")
    @classmethod
    def _standard_webhook_secrets(cls, value: list[str]) -> list[str]:
        if not value:
            raise ValueError("at least one payment webhook secret is needed")
        return [checked_secret(secret) for secret in value]

    @field_validator(
        "temporal_tls_cert_path",
        "temporal_tls_key_path",
        "temporal_tls_ca_path",
        "temporal_tls_server_name",
        "temporal_api_key",
        mode="before",
    )
    @classmethod
    def _empty_is_unset(cls, value: object) -> object:
        # docker-compose passes the optional connection settings as `${NAME:-}`: empty means not set.
        return None if value == "" else value

    @model_validator(mode="after")
    def _client_certificate_with_its_key(self) -> "Settings":
        if (self.temporal_tls_cert_path is None) != (self.temporal_tls_key_path is None):
            raise ValueError("TEMPORAL_TLS_CERT_PATH and TEMPORAL_TLS_KEY_PATH go together (a certificate and its key)")
        return self

    @property
    def exports_path(self) -> Path:
        return self.export_dir or self.data_dir / "exports"


@lru_cache
def get_settings() -> Settings:
    return Settings()

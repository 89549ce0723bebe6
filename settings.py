"""Configuration from the environment (DESIGN.md §3): one Settings object for API, worker and store."""

from functools import lru_cache
from pathlib import Path

from pydantic import BaseModel, Field
from pydantic_settings import BaseSettings, SettingsConfigDict

from domain.roles import Role


class ApiKeyGrant(BaseModel):
    """What an API key stands for."""

    subject: str
    roles: frozenset[Role]
    isv_id: str | None = None
    partner_id: str | None = None


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_file=".env", env_file_encoding="utf-8", extra="ignore")

    database_url: str = "sqlite+aiosqlite:///.data/partnerflow.db"
    temporal_address: str = "localhost:7233"
    temporal_namespace: str = "default"
    task_queue: str = "partnerflow"
    api_keys: dict[str, ApiKeyGrant] = Field(default_factory=dict)
    api_host: str = "127.0.0.1"
    api_port: int = 8000
    # The main job's local state: the Temporal dev server's SQLite file and its log.
    data_dir: Path = Path(".data")
    temporal_ui_port: int = 8233


@lru_cache
def get_settings() -> Settings:
    return Settings()

"""The production-like deployment (docs/operations.md), checked as files: no Docker engine runs where the tests do."""

import re
from pathlib import Path
from typing import Any

import pytest
import yaml  # type: ignore[import-untyped, unused-ignore]

ROOT = Path(__file__).resolve().parents[2]
COMPOSE_FILE = ROOT / "docker-compose.yml"
DOCKERFILE = ROOT / "Dockerfile"

APP_SERVICES = ("api", "worker")
README_SERVICES = ("postgres", "temporal", "temporal-ui", *APP_SERVICES)
ONE_SHOT_SERVICES = ("migrate",)
APP_SETTINGS = ("DATABASE_URL", "TEMPORAL_ADDRESS", "TEMPORAL_NAMESPACE", "TASK_QUEUE", "API_KEYS")


@pytest.fixture(scope="module")
def services() -> dict[str, dict[str, Any]]:
    compose = yaml.safe_load(COMPOSE_FILE.read_text())
    found: dict[str, dict[str, Any]] = compose["services"]
    return found


def environment(service: dict[str, Any]) -> dict[str, str]:
    """Compose takes `environment` as a mapping or as a list of KEY=VALUE."""
    raw = service.get("environment", {})
    if isinstance(raw, dict):
        return {key: str(value) for key, value in raw.items()}
    return dict(entry.split("=", 1) for entry in raw)


def dependencies(service: dict[str, Any]) -> dict[str, str]:
    """depends_on as {service: condition}; the short list form means service_started."""
    raw = service.get("depends_on", {})
    if isinstance(raw, list):
        return dict.fromkeys(raw, "service_started")
    return {name: spec.get("condition", "service_started") for name, spec in raw.items()}


def inline_python(service: dict[str, Any]) -> str | None:
    test = service.get("healthcheck", {}).get("test", [])
    if isinstance(test, list) and test[:3] == ["CMD", "python", "-c"]:
        return str(test[3])
    return None


def test_compose_runs_every_service_the_readme_names(services: dict[str, dict[str, Any]]) -> None:
    assert set(README_SERVICES) <= set(services)


@pytest.mark.parametrize("name", APP_SERVICES)
def test_api_and_worker_take_their_settings_from_the_environment(
    services: dict[str, dict[str, Any]], name: str
) -> None:
    settings = environment(services[name])

    assert set(APP_SETTINGS) <= set(settings)
    assert settings["DATABASE_URL"].startswith("postgresql+asyncpg://")
    assert settings["TEMPORAL_ADDRESS"] == "temporal:7233"


@pytest.mark.parametrize("name", APP_SERVICES)
def test_api_and_worker_start_after_healthy_postgres_and_temporal_and_a_finished_migration(
    services: dict[str, dict[str, Any]], name: str
) -> None:
    assert dependencies(services[name]) == {
        "postgres": "service_healthy",
        "temporal": "service_healthy",
        "migrate": "service_completed_successfully",
    }


def test_every_long_running_service_has_a_healthcheck(services: dict[str, dict[str, Any]]) -> None:
    long_running = set(services) - set(ONE_SHOT_SERVICES)

    assert {name for name in long_running if "test" not in services[name].get("healthcheck", {})} == set()


def test_temporal_and_its_ui_wait_for_what_they_need(services: dict[str, dict[str, Any]]) -> None:
    assert dependencies(services["temporal"]) == {"postgres": "service_healthy"}
    assert dependencies(services["temporal-ui"]) == {"temporal": "service_healthy"}
    assert environment(services["temporal-ui"])["TEMPORAL_ADDRESS"] == "temporal:7233"
    assert "8233:8080" in services["temporal-ui"]["ports"]


def test_migrate_runs_alembic_once_on_healthy_postgres(services: dict[str, dict[str, Any]]) -> None:
    migrate = services["migrate"]

    assert migrate["command"] == ["alembic", "upgrade", "head"]
    assert migrate["restart"] == "no"
    assert dependencies(migrate) == {"postgres": "service_healthy"}


def test_worker_runs_the_worker_module_and_api_the_image_default(services: dict[str, dict[str, Any]]) -> None:
    assert services["worker"]["command"] == ["python", "-m", "worker"]
    assert "command" not in services["api"]
    assert "/health" in str(services["api"]["healthcheck"]["test"])


def test_secrets_come_from_the_environment_not_from_the_file(services: dict[str, dict[str, Any]]) -> None:
    # Compose fails fast (`:?`) when one is missing, rather than starting with a default secret.
    for name in APP_SERVICES:
        for secret in ("API_KEYS", "PAYLOAD_ENCRYPTION_KEYS", "PAYLOAD_ENCRYPTION_KEY_ID"):
            assert environment(services[name])[secret].startswith(f"${{{secret}:?"), secret
    assert environment(services["postgres"])["POSTGRES_PASSWORD"].startswith("${POSTGRES_PASSWORD:?")
    assert "${POSTGRES_PASSWORD:?" in environment(services["api"])["DATABASE_URL"]


def test_inline_python_healthchecks_compile(services: dict[str, dict[str, Any]]) -> None:
    scripts = {name: code for name, service in services.items() if (code := inline_python(service)) is not None}

    assert set(APP_SERVICES) <= set(scripts)
    for name, code in scripts.items():
        compile(code, f"{name} healthcheck", "exec")


def test_dockerfile_installs_the_project_from_pyproject_and_runs_the_api_as_a_non_root_user() -> None:
    dockerfile = DOCKERFILE.read_text()

    assert re.search(r"^FROM python:3\.11-slim\b", dockerfile, re.MULTILINE)
    assert re.search(r"^COPY pyproject\.toml\b", dockerfile, re.MULTILINE)
    assert re.search(r"^RUN pip install [^\n]*\.(\s|$)", dockerfile, re.MULTILINE)
    user = re.findall(r"^USER (\S+)", dockerfile, re.MULTILINE)
    assert user and user[-1] not in {"root", "0"}
    assert 'CMD ["uvicorn", "api.app:create_app", "--factory", "--host", "0.0.0.0", "--port", "8000"]' in dockerfile


def test_image_build_leaves_local_secrets_and_state_out() -> None:
    ignored = set((ROOT / ".dockerignore").read_text().split())

    assert {".env", ".venv", ".data", ".git"} <= ignored


def test_the_payment_webhook_secrets_are_required_and_the_legacy_signatures_off(
    services: dict[str, dict[str, Any]],
) -> None:
    for name in APP_SERVICES:
        settings = environment(services[name])
        assert settings["PAYMENT_WEBHOOK_SECRETS"].startswith("${PAYMENT_WEBHOOK_SECRETS:?")
        assert settings["PAYMENT_WEBHOOK_LEGACY_SIGNATURE"].endswith(":-false}")
        assert settings["CONNECTOR_LEGACY_SIGNATURE"].endswith(":-false}")


def test_the_worker_writes_exports_where_the_api_reads_them(services: dict[str, dict[str, Any]]) -> None:
    for name in ("api", "worker"):
        export_dir = environment(services[name])["EXPORT_DIR"]
        assert f"exports:{export_dir}" in services[name]["volumes"], name

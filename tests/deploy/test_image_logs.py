"""The image's API command writes the project's log lines: uvicorn started as the Dockerfile starts it, with its
UVICORN_LOG_CONFIG, writes JSON lines through logs.py, its access log with the request id (no Docker needed)."""

import json
import os
import re
import subprocess
import sys
import time
from pathlib import Path

import httpx

from tests.ports import free_port

ROOT = Path(__file__).resolve().parents[2]


def image_env() -> dict[str, str]:
    """The Dockerfile's ENV lines."""
    lines = re.findall(r"^ENV (\S+)=(\S+)", (ROOT / "Dockerfile").read_text(), re.MULTILINE)
    return dict(lines)


def test_the_image_s_api_logs_json_lines_with_the_request_id_on_its_access_log(tmp_path: Path) -> None:
    port = free_port()
    env = {**os.environ, **image_env(), "LOG_LEVEL": "INFO", "DATABASE_URL": f"sqlite+aiosqlite:///{tmp_path}/x.db"}
    command = [sys.executable, "-m", "uvicorn", "api.app:create_app", "--factory", "--host", "127.0.0.1"]
    api = subprocess.Popen([*command, "--port", str(port)], cwd=ROOT, env=env, stderr=subprocess.PIPE, text=True)
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                response = httpx.get(f"http://127.0.0.1:{port}/health")
                break
            except httpx.TransportError:
                assert time.monotonic() < deadline and api.poll() is None, "the API did not start"
                time.sleep(0.1)
    finally:
        api.terminate()
        _, written = api.communicate(timeout=30)

    lines = [json.loads(line) for line in written.splitlines()]  # every line is JSON: stderr is a pipe here
    [access] = [line for line in lines if line["logger"] == "uvicorn.access"]
    assert access["request_id"] == response.headers["X-Request-ID"] and "GET /health" in access["message"]

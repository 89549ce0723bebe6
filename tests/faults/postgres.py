"""A PostgreSQL cluster of a fault test's own, which the test may stop and start: the shared one is never touched."""

import contextlib
import os
import shutil
import subprocess
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import text
from sqlalchemy.engine import make_url

from store.db import create_engine
from tests.faults.processes import tail
from tests.ports import free_port

# --- PostgreSQL: a cluster of the test's own ---------------------------------------------------


class PgCluster:
    """A PostgreSQL cluster made for one test with Debian's postgresql-common tools, on a free port, trusting local
    connections; dropped afterwards. The shared cluster on 5432 is never touched."""

    def __init__(self, version: str) -> None:
        self.version = version
        self.name = f"pf_fault_{uuid.uuid4().hex[:10]}"
        self.port = free_port()

    @staticmethod
    def unavailable() -> str | None:
        """Why a cluster of our own cannot be made here, or None."""
        tools = ("pg_createcluster", "pg_ctlcluster", "pg_dropcluster")
        missing = [tool for tool in tools if shutil.which(tool) is None]
        if missing:
            return f"postgresql-common is not installed ({', '.join(missing)} missing)"
        if os.geteuid() != 0:
            return "making a PostgreSQL cluster needs root (pg_createcluster runs initdb as the postgres user)"
        if not PgCluster.versions():
            return "no PostgreSQL server version is installed (/etc/postgresql is empty or missing)"
        return None

    @staticmethod
    def versions() -> list[str]:
        root = Path("/etc/postgresql")
        found = [entry.name for entry in root.iterdir() if entry.is_dir()] if root.is_dir() else []
        usable = [v for v in found if Path(f"/usr/lib/postgresql/{v}/bin/postgres").exists()]
        return sorted(usable, key=lambda v: [int(part) for part in v.split(".") if part.isdigit()])

    def _run(self, *command: str) -> None:
        done = subprocess.run(command, capture_output=True, text=True, timeout=120, check=False)
        assert done.returncode == 0, f"{' '.join(command)} failed ({done.returncode}):\n{done.stdout}\n{done.stderr}"

    def create(self) -> None:
        self._run("pg_createcluster", self.version, self.name, "-p", str(self.port), "--", "--auth=trust")

    def start(self) -> None:
        self._run("pg_ctlcluster", "--skip-systemctl-redirect", self.version, self.name, "start")

    def stop(self) -> None:
        self._run("pg_ctlcluster", "--skip-systemctl-redirect", self.version, self.name, "stop", "-m", "fast")

    def drop(self) -> None:
        subprocess.run(
            ["pg_dropcluster", "--stop", self.version, self.name], capture_output=True, timeout=120, check=False
        )

    def url(self, database: str) -> str:
        return f"postgresql+asyncpg://postgres@127.0.0.1:{self.port}/{database}"

    @property
    def log(self) -> Path:
        return Path(f"/var/log/postgresql/postgresql-{self.version}-{self.name}.log")

    async def create_database(self, name: str) -> str:
        engine = create_engine(self.url("postgres"))
        try:
            async with engine.connect() as connection:
                autocommit = await connection.execution_options(isolation_level="AUTOCOMMIT")
                await autocommit.execute(text(f"CREATE DATABASE {name}"))
        finally:
            await engine.dispose()
        return make_url(self.url(name)).render_as_string(hide_password=False)


@contextlib.contextmanager
def pg_cluster() -> Iterator[PgCluster]:
    reason = PgCluster.unavailable()
    if reason is not None:
        pytest.skip(f"no PostgreSQL cluster of our own can be made: {reason}")
    cluster = PgCluster(PgCluster.versions()[-1])
    try:
        try:
            cluster.create()
            cluster.start()
        except AssertionError as error:  # the machine will not let us (permissions, disk, a broken install)
            pytest.skip(f"no PostgreSQL cluster of our own can be made: {error}")
        yield cluster
    except BaseException:
        print(f"\n----- PostgreSQL {cluster.name}: {cluster.log} -----\n{tail(cluster.log)}", flush=True)
        raise
    finally:
        cluster.drop()

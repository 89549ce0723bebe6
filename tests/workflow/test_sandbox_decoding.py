"""A fresh worker process decodes every payment method inside the workflow sandbox.

In the test process the IBAN registry is usually loaded already (outside the sandbox) by earlier tests, which
hides a sandbox that cannot load it; so the check runs in an interpreter of its own.
"""

import os
import subprocess
import sys
import textwrap
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]

# The sandbox re-imports a workflow's module for each run: it holds the workflow and the models it takes only.
ECHO_WORKFLOW = textwrap.dedent(
    """
    from temporalio import workflow

    from domain.payments import DirectDebit


    @workflow.defn
    class EchoAccountCountry:
        @workflow.run
        async def run(self, method: DirectDebit) -> str:
            return method.iban[:2]
    """
)

FRESH_WORKER = textwrap.dedent(
    """
    import asyncio, os, sys, uuid
    from datetime import timedelta

    from temporalio.client import Client
    from temporalio.worker import Worker

    import worker
    from devstack import time_skipping_server
    from echo_workflow import EchoAccountCountry


    async def main() -> None:
        async with time_skipping_server() as env:
            client = Client(env.client.service_client, namespace=env.client.namespace,
                            data_converter=worker.data_converter())
            async with Worker(client, task_queue="fresh", workflows=[EchoAccountCountry],
                              workflow_runner=worker.workflow_runner()):
                method = {"type": "direct_debit", "iban": "DE89 3704 0044 0532 0130 00",
                          "mandate_reference": "MANDATE-1", "account_holder": "Erika Mustermann"}
                print(await client.execute_workflow("EchoAccountCountry", method, id=str(uuid.uuid4()),
                                                    task_queue="fresh", execution_timeout=timedelta(seconds=20)))

    asyncio.run(main())
    sys.stdout.flush()
    os._exit(0)  # the SDK's threads can abort interpreter teardown: the check is done
    """
)


def test_a_fresh_worker_decodes_a_direct_debit_inside_the_sandbox(tmp_path: Path) -> None:
    (tmp_path / "echo_workflow.py").write_text(ECHO_WORKFLOW)
    (tmp_path / "fresh_worker.py").write_text(FRESH_WORKER)
    done = subprocess.run(
        [sys.executable, str(tmp_path / "fresh_worker.py")],
        cwd=ROOT,
        env={**os.environ, "PYTHONPATH": os.pathsep.join([str(tmp_path), str(ROOT)])},
        capture_output=True,
        text=True,
        timeout=90,
        check=False,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    assert done.stdout.strip().splitlines()[-1] == "DE"

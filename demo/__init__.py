"""Demo data: `python -m demo` fills a running stack with a believable marketplace for the operator console.

`plan.py` decides everything from the seed (pure data), `seeder.py` creates it through the API (and, for history
that lies in the past, through backdated workflow starts), `__main__.py` is the command line.
"""

import asyncio
import os
import sys
from collections.abc import Coroutine
from typing import Any


def exit_after(command: Coroutine[Any, Any, int]) -> None:
    """Runs a command to its exit code and leaves at once, output flushed."""
    code = asyncio.run(command)
    sys.stdout.flush()
    sys.stderr.flush()
    # The SDK's Rust threads can abort interpreter teardown (temporalio/sdk-python#300); all work is done.
    os._exit(code)

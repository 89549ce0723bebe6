"""An app served over real HTTP: uvicorn on a free loopback port, in the test's event loop."""

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import uvicorn
from fastapi import FastAPI

from tests.ports import free_port


@asynccontextmanager
async def over_http(app: FastAPI) -> AsyncIterator[str]:
    """Serves `app` (whose lifespan the caller runs) and yields its base URL, e.g. `http://127.0.0.1:41234`."""
    port = free_port()
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, lifespan="off", log_level="warning"))
    task = asyncio.create_task(server.serve())
    for _ in range(200):  # uvicorn says when it listens only through this flag
        if server.started:
            break
        await asyncio.sleep(0.05)
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        await task

"""`python -m demo`: fills a running stack (`scripts/run`) with a believable marketplace for the operator console.

    python -m demo [--api-url http://127.0.0.1:8000] [--seed 1] [--scale default|small] [--wait 90]

It reads its configuration as the stack does: the API keys from API_KEYS in the environment, else the demo keys
`scripts/run` uses when that is unset; Temporal's address, namespace, task queue and payload encryption keys from the
same settings (environment or `.env`). Run it again with the same seed and it replays what is there; another seed
adds another marketplace beside it.
"""

import argparse
import asyncio
import os
import re
import sys

import httpx
from pydantic import ValidationError
from pydantic_settings import SettingsError

from demo import exit_after
from demo.plan import Scale, build_plan
from demo.seeder import AM, PM, Api, ApiFailure, Caller, MissingKey, Seeder, callers_from, summary
from devstack import DEMO_API_KEYS
from domain.ids import SLUG_PATTERN
from domain.roles import Role
from settings import ApiKeyGrant, Settings, get_settings
from worker import connect

CONNECT_SECONDS = 10.0


class Unreachable(Exception):
    """Something the demo needs does not answer, or not as the stack it expects would."""


def stack_api_keys(settings: Settings) -> dict[str, ApiKeyGrant]:
    """The keys the running stack accepts, found as `scripts/run` finds them: API_KEYS from the environment, else the
    demo keys devstack sets in its place (only the environment counts there: devstack's variable wins over `.env`)."""
    if "API_KEYS" in os.environ:
        return settings.api_keys
    return {key: ApiKeyGrant.model_validate(grant) for key, grant in DEMO_API_KEYS.items()}


def parse(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m demo", description=__doc__.split("\n\n")[0])
    parser.add_argument("--api-url", default="http://127.0.0.1:8000", help="the running API (without /api/v1)")
    parser.add_argument("--seed", type=int, default=1, help="the same seed draws the same marketplace")
    parser.add_argument("--scale", type=Scale, choices=list(Scale), default=Scale.DEFAULT)
    parser.add_argument(
        "--wait", type=float, default=90.0, help="seconds to wait for backdated subscriptions to show their status"
    )
    parser.add_argument("--concurrency", type=int, default=8, help="objects created at the same time")
    return parser.parse_args(argv)


async def check_api(http: httpx.AsyncClient, api_url: str, callers: dict[Role, Caller]) -> None:
    try:
        health = await http.get("/health")
    except httpx.TransportError as error:
        raise Unreachable(
            f"the API at {api_url} is unreachable ({_reason(error)}); is the stack running (scripts/run)?"
        ) from error
    if health.status_code != 200:
        raise Unreachable(f"{api_url}/health answered {health.status_code}; is that the Partnerflow API?")
    for role, caller in callers.items():
        headers = {"Authorization": f"Bearer {caller.key}"}
        answer = await http.get("/api/v1/apps", params={"page_size": 1}, headers=headers)
        if answer.status_code == 401:
            raise Unreachable(
                f"the API refused the {role.value} key of {caller.subject}: set API_KEYS as the stack has it"
            )


def _reason(error: BaseException) -> str:
    return (str(error) or type(error).__name__).splitlines()[0][:160]


def _slug_or(subject: str, default: str) -> str:
    return subject if re.fullmatch(SLUG_PATTERN, subject) else default


async def run(args: argparse.Namespace) -> int:
    api_url = args.api_url.rstrip("/")
    try:
        settings = get_settings()
        callers = callers_from(stack_api_keys(settings))
    except (ValidationError, SettingsError) as invalid:
        return fail(f"the settings are invalid: {_reason(invalid)}")
    except MissingKey as missing:
        return fail(str(missing))
    async with httpx.AsyncClient(base_url=api_url, timeout=60.0, trust_env=False) as http:
        try:
            await check_api(http, api_url, callers)
            temporal = await asyncio.wait_for(connect(settings), CONNECT_SECONDS)
        except Unreachable as error:
            return fail(str(error))
        except (RuntimeError, TimeoutError) as error:
            return fail(f"Temporal at {settings.temporal_address} is unreachable ({_reason(error)})")
        plan = build_plan(
            args.seed,
            args.scale,
            partner_manager=_slug_or(callers[PM].subject, "pm-anna"),
            account_manager=_slug_or(callers[AM].subject, "am-bernd"),
        )
        api = Api(http, callers, key_prefix=f"demo-{plan.scale.value}-{plan.seed}")
        seeder = Seeder(api, temporal, settings.task_queue, plan, concurrency=args.concurrency)
        try:
            report = await seeder.run(args.wait)
        except httpx.TransportError as error:
            return fail(f"lost the API at {api_url} ({_reason(error)})")
        except ApiFailure as error:
            return fail(_reason(error))
    print(summary(plan, report, api_url), flush=True)
    return 0


def fail(message: str) -> int:
    print(f"demo: {message}", file=sys.stderr, flush=True)
    return 1


def main(argv: list[str] | None = None) -> None:
    exit_after(run(parse(argv)))


if __name__ == "__main__":
    main()

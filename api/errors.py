"""One error shape for every answer that is not a success: {"error": {"code", "message", "details"}}."""

import logging
import re
from collections.abc import Sequence
from datetime import timedelta
from http import HTTPStatus
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from pydantic import BaseModel
from sqlalchemy.exc import DBAPIError
from starlette.exceptions import HTTPException as StarletteHTTPException
from temporalio.client import RPCTimeoutOrCancelledError, WorkflowUpdateFailedError
from temporalio.exceptions import ApplicationError, WorkflowAlreadyStartedError
from temporalio.service import RPCError, RPCStatusCode

from store.db import OUTAGE_ERRORS, is_outage

logger = logging.getLogger(__name__)


class ErrorBody(BaseModel):
    code: str
    message: str
    details: Any = None


class ErrorResponse(BaseModel):
    """The shape of every error answer; documented in OpenAPI."""

    error: ErrorBody


class ApiError(Exception):
    """An answer the API chose to give: raised anywhere, rendered by one handler."""

    def __init__(
        self,
        status: int,
        code: str,
        message: str,
        details: Any = None,
        headers: dict[str, str] | None = None,
    ) -> None:
        super().__init__(message)
        self.status = status
        self.code = code
        self.message = message
        self.details = details
        self.headers = headers


class CommandPending(Exception):
    """The workflow accepted the command and is still carrying it out: answered 202, its outcome comes later."""

    def __init__(self, update_id: str) -> None:
        super().__init__(update_id)
        self.update_id = update_id


class PendingAnswer(BaseModel):
    """The answer to a command that was accepted but not finished within the request's time."""

    status: str = "pending"
    update_id: str
    message: str


# Set in the request's state when the answer is a CommandPending: the command trail then leaves the command's
# outcome to recovery, and keeps no answer for the Idempotency-Key, so a retry gets the outcome.
PENDING_STATE = "command_pending"


def not_found(code: str, message: str) -> ApiError:
    return ApiError(HTTPStatus.NOT_FOUND, code, message)


def invalid_request(details: list[dict[str, str]]) -> ApiError:
    """A 422 naming each field at fault: `details` is a list of {"field", "message"}."""
    return ApiError(HTTPStatus.UNPROCESSABLE_ENTITY, "validation_error", "the request is invalid", details)


def temporal_unavailable(reason: str) -> ApiError:
    return ApiError(
        HTTPStatus.SERVICE_UNAVAILABLE,
        "temporal_unavailable",
        f"Temporal cannot be reached: {reason}",
        headers={"Retry-After": str(RETRY_AFTER_SECONDS)},
    )


def view_not_answered(kind: str, waited: timedelta) -> ApiError:
    """A read only a worker answers (a workflow query), with no worker answering: the process is fine, its worker
    is not there right now."""
    return ApiError(
        HTTPStatus.SERVICE_UNAVAILABLE,
        "worker_unavailable",
        f"no worker answered the read of this {kind} within {waited.total_seconds():g} s; retry shortly",
        headers={"Retry-After": str(RETRY_AFTER_SECONDS)},
    )


# How long a client should wait before retrying after an outage answer.
RETRY_AFTER_SECONDS = 5


def store_unavailable() -> ApiError:
    return ApiError(
        HTTPStatus.SERVICE_UNAVAILABLE,
        "store_unavailable",
        "the database cannot be reached right now; nothing was changed by this request, retry shortly",
        headers={"Retry-After": str(RETRY_AFTER_SECONDS)},
    )


# A rule's refusal code (domain/errors.py): snake_case. The SDK rejects an Update it cannot even take up (its
# argument fails to decode, say) with the Python exception's name as the type instead, e.g. "RuntimeError".
_RULE_CODE = re.compile(r"[a-z][a-z0-9_]*")


def refusal(failed: WorkflowUpdateFailedError) -> ApiError:
    """A command the workflow refused: the rule's code, message and details become a 409. One the worker could not
    take up is no conflict of the caller's: a 502 (nothing was applied; the worker or its deployment is at fault)."""
    cause = failed.cause
    if isinstance(cause, ApplicationError) and (cause.type is None or _RULE_CODE.fullmatch(cause.type)):
        details = cause.details[0] if cause.details else None
        return ApiError(HTTPStatus.CONFLICT, cause.type or "command_refused", cause.message, details)
    logger.error("a worker could not take up a command: %s", cause, exc_info=failed)
    return ApiError(
        HTTPStatus.BAD_GATEWAY,
        "worker_error",
        "the worker could not take up the command, and applied nothing; this is not a fault of the request",
        {"cause": getattr(cause, "type", None) or type(cause).__name__},
    )


# Statuses a Temporal RPC can end with that say "the service is not there right now".
_UNAVAILABLE = frozenset({RPCStatusCode.UNAVAILABLE, RPCStatusCode.DEADLINE_EXCEEDED})


def from_rpc_error(error: RPCError) -> ApiError:
    if error.status in _UNAVAILABLE:
        return temporal_unavailable(error.message)
    if error.status == RPCStatusCode.NOT_FOUND:
        return not_found("not_found", error.message)
    return ApiError(HTTPStatus.BAD_GATEWAY, "temporal_error", error.message)


def _field(location: Sequence[int | str]) -> str:
    return ".".join(str(part) for part in location)


def validation_details(errors: Sequence[Any]) -> list[dict[str, str]]:
    """Pydantic's errors reduced to what a client needs: which field, and what is wrong with it."""
    return [_detail(error) for error in errors]


def _detail(error: Any) -> dict[str, str]:
    location = error.get("loc", ())
    if error.get("type") == "json_invalid":
        # FastAPI puts the character where decoding failed in the location ("body", 23): say it in words.
        position = location[-1] if len(location) > 1 and isinstance(location[-1], int) else None
        reason = (error.get("ctx") or {}).get("error")
        where = f" at character {position}" if position is not None else ""
        return {"field": "body", "message": f"invalid JSON{where}" + (f": {reason}" if reason else "")}
    return {"field": _field(location), "message": str(error.get("msg", ""))}


def render(error: ApiError) -> JSONResponse:
    """The one error shape as a response; also an ASGI app, so middleware can answer with it."""
    body = ErrorResponse(error=ErrorBody(code=error.code, message=error.message, details=error.details))
    return JSONResponse(body.model_dump(mode="json"), status_code=error.status, headers=error.headers)


_HTTP_CODES: dict[int, str] = {
    HTTPStatus.NOT_FOUND: "not_found",
    HTTPStatus.METHOD_NOT_ALLOWED: "method_not_allowed",
    HTTPStatus.UNAUTHORIZED: "unauthenticated",
    HTTPStatus.FORBIDDEN: "forbidden",
}


async def _api_error(_: Request, error: Exception) -> JSONResponse:
    assert isinstance(error, ApiError)
    return render(error)


async def _validation_error(_: Request, error: Exception) -> JSONResponse:
    assert isinstance(error, RequestValidationError)
    return render(invalid_request(validation_details(error.errors())))


async def _http_error(_: Request, error: Exception) -> JSONResponse:
    assert isinstance(error, StarletteHTTPException)
    if error.status_code == HTTPStatus.BAD_REQUEST and isinstance(error.__cause__, ValueError):
        # FastAPI's answer to a body it cannot even decode (e.g. not UTF-8); invalid JSON is a 422, and so is this.
        return render(invalid_request([{"field": "body", "message": "the body is not valid JSON"}]))
    code = _HTTP_CODES.get(error.status_code, "http_error")
    headers = dict(error.headers) if error.headers else None
    return render(ApiError(error.status_code, code, str(error.detail), headers=headers))


async def _rpc_error(_: Request, error: Exception) -> JSONResponse:
    assert isinstance(error, RPCError)
    return render(from_rpc_error(error))


async def _rpc_timeout(_: Request, error: Exception) -> JSONResponse:
    # E.g. an Update or query that no worker picked up in time: Temporal is there, the service is not.
    return render(temporal_unavailable("no answer in time"))


async def _update_failed(_: Request, error: Exception) -> JSONResponse:
    assert isinstance(error, WorkflowUpdateFailedError)
    return render(refusal(error))


async def _already_started(_: Request, error: Exception) -> JSONResponse:
    assert isinstance(error, WorkflowAlreadyStartedError)
    return render(ApiError(HTTPStatus.CONFLICT, "already_started", f"workflow {error.workflow_id} already exists"))


async def _pending(request: Request, error: Exception) -> JSONResponse:
    assert isinstance(error, CommandPending)
    setattr(request.state, PENDING_STATE, True)
    answer = PendingAnswer(
        update_id=error.update_id,
        message="the command was accepted and is still being carried out; send it again with the same "
        "Idempotency-Key for its result",
    )
    return JSONResponse(answer.model_dump(), status_code=HTTPStatus.ACCEPTED)


async def _store_outage(_: Request, error: Exception) -> JSONResponse:
    if not is_outage(error):  # e.g. a DBAPIError that is a bug, not an outage
        return await _unexpected(_, error)
    logger.warning("answered 503: the store is unavailable: %s", error)
    return render(store_unavailable())


async def _unexpected(_: Request, error: Exception) -> JSONResponse:
    # Keeps the shape even for bugs; the traceback goes to the server log, not to the client.
    return render(ApiError(HTTPStatus.INTERNAL_SERVER_ERROR, "internal_error", "an unexpected error occurred"))


def register_error_handlers(app: FastAPI) -> None:
    app.add_exception_handler(ApiError, _api_error)
    app.add_exception_handler(RequestValidationError, _validation_error)
    app.add_exception_handler(StarletteHTTPException, _http_error)
    app.add_exception_handler(RPCError, _rpc_error)
    app.add_exception_handler(RPCTimeoutOrCancelledError, _rpc_timeout)
    app.add_exception_handler(WorkflowUpdateFailedError, _update_failed)
    app.add_exception_handler(WorkflowAlreadyStartedError, _already_started)
    app.add_exception_handler(CommandPending, _pending)
    for outage in (*OUTAGE_ERRORS, DBAPIError):
        app.add_exception_handler(outage, _store_outage)
    app.add_exception_handler(Exception, _unexpected)


# For `responses=` on routers, so /docs shows the error shape.
ERROR_RESPONSES: dict[int | str, dict[str, Any]] = {
    status: {"model": ErrorResponse, "description": description}
    for status, description in (
        (401, "Missing or invalid API key"),
        (403, "The caller's roles do not allow this"),
        (404, "Unknown id"),
        (409, "The process refuses the command now"),
        (413, "The request body is larger than the limit"),
        (422, "Invalid body, query or path"),
        (503, "Temporal or the database cannot be reached (`Retry-After` says when to try again)"),
    )
}

"""Prometheus scrapes here (docs/metrics.md). Open unless METRICS_TOKEN is set: it shows aggregate counts only."""

import hmac
from http import HTTPStatus

from fastapi import APIRouter, Request, Response
from fastapi.security.utils import get_authorization_scheme_param
from prometheus_client import CONTENT_TYPE_LATEST

from api.errors import ApiError
from api.metrics import ApiMetrics
from settings import Settings

router = APIRouter(tags=["metrics"])


@router.get("/metrics", include_in_schema=False)
async def metrics(request: Request) -> Response:
    _authorize(request, request.app.state.settings)
    api_metrics: ApiMetrics = request.app.state.metrics
    return Response(await api_metrics.exposition(), media_type=CONTENT_TYPE_LATEST)


def _authorize(request: Request, settings: Settings) -> None:
    token = settings.metrics_token.get_secret_value() if settings.metrics_token else ""
    if not token:
        return
    scheme, presented = get_authorization_scheme_param(request.headers.get("authorization"))
    if scheme.lower() != "bearer" or not hmac.compare_digest(presented.encode(), token.encode()):
        raise ApiError(
            HTTPStatus.UNAUTHORIZED,
            "unauthenticated",
            "the metrics token is required: Authorization: Bearer <METRICS_TOKEN>",
            headers={"WWW-Authenticate": "Bearer"},
        )

"""The collector's HTTP API (Starlette): `create_app`, the routes, authentication and the
mapping of errors to responses. The handlers (`handlers`) are thin: they read the request and
ask the `Collector` service in `app.state.collector`.

Bearer tokens per agent and per operator, compared with `hmac.compare_digest` against every
configured token (so timing says nothing about which one nearly matched); tokens are never
logged. Ingest answers 202 only after the store committed the accepted results. Reads accept
any agent or operator token; changes (windows, incidents, disputes) need an operator's, whose
name is the identity recorded.
"""

from __future__ import annotations

import hmac
import logging
from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager

from starlette.applications import Starlette
from starlette.authentication import AuthCredentials, AuthenticationBackend, BaseUser
from starlette.exceptions import HTTPException
from starlette.middleware import Middleware
from starlette.middleware.authentication import AuthenticationMiddleware
from starlette.requests import HTTPConnection, Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from collector.api import handlers as h
from collector.api import openapi
from collector.api.metrics import Metrics, RequestMetrics
from collector.api.summary import Summary
from collector.config import Principal
from collector.domain.incidents import IncidentError
from collector.service import Collector, NotFound
from collector.store.base import StoreError

log = logging.getLogger("hotline.collector.api")

_OUTAGE = "/api/v1/outages/{outage_id:path}"
_INCIDENT = "/api/v1/incidents/{incident_id}"

ROUTES = [
    Route("/api/v1/results", h.results, methods=["POST"]),
    Route("/api/v1/heartbeat", h.heartbeat, methods=["POST"]),
    Route("/api/v1/status", h.status, methods=["GET"]),
    Route("/api/v1/summary", h.summary, methods=["GET"]),
    Route("/api/v1/outages", h.outages, methods=["GET"]),
    Route(f"{_OUTAGE}/exclude", h.exclude_outage, methods=["POST"]),
    Route(f"{_OUTAGE}/exclude", h.include_outage, methods=["DELETE"]),
    Route(f"{_OUTAGE}/annotate", h.annotate_outage, methods=["POST"]),
    Route("/api/v1/no_data", h.no_data, methods=["GET"]),
    Route("/api/v1/facts", h.facts, methods=["GET"]),
    Route("/api/v1/inspection", h.inspection, methods=["GET"]),
    Route("/api/v1/audit", h.audit, methods=["GET"]),
    Route("/api/v1/rollups", h.rollups, methods=["GET"]),
    Route("/api/v1/maintenance", h.list_windows, methods=["GET"]),
    Route("/api/v1/maintenance", h.add_window, methods=["POST"]),
    Route("/api/v1/maintenance/{window_id}", h.get_window, methods=["GET"]),
    Route("/api/v1/maintenance/{window_id}", h.update_window, methods=["PUT"]),
    Route("/api/v1/maintenance/{window_id}", h.remove_window, methods=["DELETE"]),
    Route("/api/v1/incidents", h.list_incidents, methods=["GET"]),
    Route("/api/v1/incidents", h.open_incident, methods=["POST"]),
    Route(_INCIDENT, h.get_incident, methods=["GET"]),
    Route(f"{_INCIDENT}/ack", h.ack_incident, methods=["POST"]),
    Route(f"{_INCIDENT}/restore", h.restore_incident, methods=["POST"]),
    Route(f"{_INCIDENT}/report", h.report_incident, methods=["POST"]),
    Route(f"{_INCIDENT}/annotate", h.annotate_incident, methods=["POST"]),
    Route("/ack/{token}", h.ack_link_page, methods=["GET"]),
    Route("/ack/{token}", h.ack_link_confirm, methods=["POST"]),
    Route("/", h.status_page_html, methods=["GET"]),
    Route("/healthz", h.healthz, methods=["GET"]),
    Route("/metrics", h.prometheus, methods=["GET"]),
]


class TokenUser(BaseUser):
    """The principal a bearer token belongs to."""

    def __init__(self, principal: Principal) -> None:
        self.principal = principal

    @property
    def is_authenticated(self) -> bool:
        return True

    @property
    def display_name(self) -> str:
        return self.principal.name


class TokenBackend(AuthenticationBackend):
    """`Authorization: Bearer TOKEN` → scopes `authenticated` and the principal's role."""

    def __init__(self, principals: Sequence[Principal]) -> None:
        self.principals = tuple(principals)

    async def authenticate(self, conn: HTTPConnection) -> tuple[AuthCredentials, BaseUser] | None:
        scheme, _, token = conn.headers.get("authorization", "").partition(" ")
        if scheme.lower() != "bearer" or not token.strip():
            return None
        given = token.strip().encode()
        found = None
        for p in self.principals:  # every comparison runs: no early exit
            if hmac.compare_digest(p.token.encode(), given):
                found = p
        if found is None:
            return None
        return AuthCredentials(["authenticated", found.role]), TokenUser(found)


def _error(error: str, status: int, headers: dict[str, str] | None = None) -> JSONResponse:
    return JSONResponse({"error": error}, status_code=status, headers=headers)


async def _http_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, HTTPException)
    error = exc.detail
    if exc.status_code == 401:  # from requires("authenticated", status_code=401)
        error = "missing or unknown bearer token"
    elif exc.status_code == 403 and exc.detail == "Forbidden":  # from requires(role)
        user = request.user
        needed = (
            "agent"
            if isinstance(user, TokenUser) and user.principal.role != "agent"
            else "operator"
        )
        error = f"needs an {needed} token"
    return _error(error, exc.status_code, exc.headers)


async def _not_found(request: Request, exc: Exception) -> Response:
    return _error(str(exc), 404)


async def _conflict(request: Request, exc: Exception) -> Response:
    return _error(str(exc), 409)


async def _invalid(request: Request, exc: Exception) -> Response:
    return _error(str(exc), 400)


async def _store_down(request: Request, exc: Exception) -> Response:
    log.error("store: %s", exc)
    # the store's error may name its user, host and database: only for a known token
    known = request.user.is_authenticated
    return _error(f"store unavailable: {exc}" if known else "store unavailable", 503)


async def _openapi(request: Request) -> Response:
    return JSONResponse(openapi.document(request.app.routes))


def create_app(collector: Collector, *, lifecycle: bool = True) -> Starlette:
    """The ASGI app. With `lifecycle`, the app starts and stops the collector (and its store)."""

    @asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        if lifecycle:
            await collector.start()
        try:
            yield
        finally:
            if lifecycle:
                await collector.stop()

    metrics = Metrics()
    app = Starlette(
        routes=[*ROUTES, Route("/api/v1/openapi.json", _openapi, include_in_schema=False)],
        middleware=[
            Middleware(RequestMetrics, metrics=metrics),
            Middleware(AuthenticationMiddleware, backend=TokenBackend(collector.config.principals)),
        ],
        exception_handlers={
            HTTPException: _http_error,
            NotFound: _not_found,
            IncidentError: _conflict,
            ValueError: _invalid,
            StoreError: _store_down,
        },
        lifespan=lifespan,
    )
    app.state.collector = collector
    app.state.metrics = metrics
    app.state.summary = Summary()
    return app

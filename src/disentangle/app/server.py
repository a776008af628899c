"""The FastAPI app: a JSON API over :class:`AppService` plus the static single-page UI.

Every page is the same ``index.html``; its script reads the path (``/``, ``/feature/12``,
``/families``, ``/map``) and the query string, so a steered search is a shareable URL.
Swagger/ReDoc pages are off because they load their assets from a CDN and the app must work
offline; the OpenAPI schema itself is served at ``/api/openapi.json``.

Under load the app stays fast by bounding its compute: at most ``COMPUTE_SLOTS`` requests
compute at once (each in a worker thread, its JSON rendered there too), the others wait their
turn on the event loop, and ``limit_compute_threads`` keeps each request's torch/BLAS work on
one thread. Fifty requests each spreading over every core would oversubscribe the machine
and make throughput fall as clients are added.
"""

from __future__ import annotations

import ipaddress
import os
import socket
from collections.abc import Callable
from importlib import resources
from pathlib import Path
from typing import Annotated, Any

import anyio
import torch
from fastapi import FastAPI, HTTPException, Query, Request
from fastapi import Path as PathParam
from fastapi.responses import FileResponse, JSONResponse, PlainTextResponse
from fastapi.staticfiles import StaticFiles
from starlette.types import ASGIApp, Receive, Scope, Send
from threadpoolctl import threadpool_limits

from disentangle.app.service import AppService
from disentangle.errors import DisentangleError
from disentangle.search import DEFAULT_BLEND
from disentangle.search.hybrid import AUTO
from disentangle.search.request import (
    MAX_BLEND,
    MAX_CATEGORIES,
    MAX_EDITS,
    MAX_FAMILY_EDITS,
    MAX_K,
    MAX_QUERY_CHARS,
    SearchRequest,
)
from disentangle.search.steer import MODES

STATIC = Path(str(resources.files("disentangle.app") / "static"))
PAGES = ("/", "/families", "/map")
MAX_LOOKUP_CHARS = 200
COMPUTE_SLOTS = max(1, min(os.cpu_count() or 1, 8))
"""Requests computing at once: one per core, each single-threaded."""
LOOPBACK_NAMES = ("localhost", "127.0.0.1", "::1")


def create_app(workspace: str | Path, sae: str | None = None,
               loopback_only: bool = False) -> FastAPI:
    """An app over one workspace's SAE (default: the latest), loaded once, read-only.
    ``loopback_only`` answers only requests addressed to a loopback host name."""
    return build_app(AppService.open(workspace, sae), loopback_only)


def limit_compute_threads() -> None:
    """One thread for torch and BLAS per request: the server's parallelism is
    ``COMPUTE_SLOTS`` requests at once. Process-wide, so the serving process calls it."""
    torch.set_num_threads(1)
    threadpool_limits(1)


def check_bind_host(host: str) -> bool:
    """Whether ``host`` is a loopback address; a clear error, before anything loads, for a
    host that is neither an IP address nor a name this machine resolves."""
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        pass
    try:
        socket.getaddrinfo(host, None)
    except (socket.gaierror, UnicodeError):
        raise DisentangleError(f"--host {host!r} is neither an IP address nor a known host "
                               "name; use e.g. 127.0.0.1, ::1 or 0.0.0.0") from None
    return False


class LoopbackHostOnly:
    """Refuse requests whose ``Host`` is not a loopback name. A page on another site can
    point its own domain at 127.0.0.1 (DNS rebinding) and read a loopback server's answers;
    its requests still carry that domain as ``Host``, so checking the name stops them."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] in ("http", "websocket"):
            host = dict(scope["headers"]).get(b"host", b"").decode("latin-1")
            if not _is_loopback_name(host):
                response = PlainTextResponse(
                    f"host {host!r} is not served: this server answers to localhost names "
                    "only (start it with --host to serve other names)", status_code=400)
                await response(scope, receive, send)
                return
        await self.app(scope, receive, send)


def _is_loopback_name(host_header: str) -> bool:
    """``localhost:8000``, ``127.0.0.1``, ``[::1]:8000`` → True; ``evil.example`` → False."""
    if host_header.startswith("["):
        name = host_header[1:].partition("]")[0]
    else:
        name = host_header.rpartition(":")[0] if ":" in host_header else host_header
    name = name.lower().rstrip(".")
    if name in LOOPBACK_NAMES:
        return True
    try:
        return ipaddress.ip_address(name).is_loopback
    except ValueError:
        return False


def build_app(service: AppService, loopback_only: bool = False) -> FastAPI:
    """The app over an already loaded service (tests reuse one service across apps)."""
    service.warm()
    app = FastAPI(title="disentangle", version="1", docs_url=None, redoc_url=None,
                  openapi_url="/api/openapi.json",
                  description="Steerable, explained semantic search over SAE features.")
    if loopback_only:
        app.add_middleware(LoopbackHostOnly)
    slots = anyio.CapacityLimiter(COMPUTE_SLOTS)

    async def computed(answer: Callable[..., dict[str, Any]], *args: Any) -> JSONResponse:
        """``answer(*args)`` as JSON, computed and rendered in a worker thread when one of
        the compute slots is free."""
        return await anyio.to_thread.run_sync(
            lambda: JSONResponse(answer(*args)), limiter=slots)

    @app.exception_handler(DisentangleError)
    async def user_error(_: Request, error: DisentangleError) -> JSONResponse:
        return JSONResponse(status_code=422, content={"detail": str(error)})

    @app.get("/api/info", summary="The SAE served, what optional data exists, and the limits")
    async def info() -> JSONResponse:
        return await computed(service.info)

    @app.get("/api/search", summary="Steered search with explained hits and slider state")
    async def search(
        q: Annotated[str, Query(min_length=1, max_length=MAX_QUERY_CHARS,
                                description="Query text.")],
        k: Annotated[int, Query(ge=1, le=MAX_K, description="Number of hits.")] = 10,
        e: Annotated[list[str], Query(max_length=MAX_EDITS, description=(
            "Feature edits FEATURE:VALUE — 812:0.3 sets, 812:off removes, 812:x0.5 scales, "
            "812:+0.1 adds, 812:up1 raises to its typical activation."))] = [],  # noqa: B006
        fe: Annotated[list[str], Query(max_length=MAX_FAMILY_EDITS,
                                       description="Family edits, same syntax, by family id."
                                       )] = [],  # noqa: B006
        year: Annotated[str | None, Query(max_length=20, description="2015, 2015-2017, 2015-"
                                          )] = None,
        cat: Annotated[list[str], Query(max_length=MAX_CATEGORIES,
                                        description="Category prefixes.")] = [],  # noqa: B006
        require: Annotated[list[str], Query(max_length=MAX_EDITS)] = [],  # noqa: B006
        exclude: Annotated[list[str], Query(max_length=MAX_EDITS)] = [],  # noqa: B006
        mode: Annotated[str, Query(pattern=f"^({'|'.join(MODES)})$")] = MODES[0],
        blend: Annotated[float, Query(ge=0.0, le=MAX_BLEND, description=(
            "Score a hit gains (loses) per unit of a raise (lowering) when it carries the "
            "edited feature like its typical top documents; 0 = move the query vector only."
        ))] = DEFAULT_BLEND,
        pool: Annotated[str, Query(max_length=8, description=(
            "Which of the steered query's nearest documents the feature terms re-rank: auto "
            "(adaptive), a number, or 0 / all = the whole corpus."))] = AUTO,
    ) -> JSONResponse:
        request = SearchRequest(q, k, tuple(e), tuple(fe), year or None,
                                tuple(c for c in cat if c.strip()), tuple(require),
                                tuple(exclude), mode, blend, pool)
        return await computed(service.search, request)

    @app.get("/api/features/lookup", summary="Find features by (part of) their label")
    async def lookup(
        q: Annotated[str, Query(min_length=1, max_length=MAX_LOOKUP_CHARS)],
        limit: Annotated[int, Query(ge=1, le=50)] = 10,
    ) -> JSONResponse:
        return await computed(service.lookup, q, limit)

    @app.get("/api/features/{feature}", summary="Everything the feature page shows")
    async def feature(feature: Annotated[int, PathParam(ge=0)],
                      top: Annotated[int, Query(ge=1, le=50)] = 10) -> JSONResponse:
        try:
            service.check_feature(feature)
        except KeyError as error:
            raise HTTPException(404, error.args[0]) from None
        return await computed(service.feature, feature, top)

    @app.get("/api/families", summary="The family tree (empty until families are built)")
    async def families() -> JSONResponse:
        return await computed(service.family_tree)

    @app.get("/api/families/{family}", summary="One family with its members")
    async def family(family: Annotated[int, PathParam(ge=0)]) -> JSONResponse:
        try:
            return await computed(service.family, family)
        except KeyError as error:
            raise HTTPException(404, error.args[0]) from None

    @app.get("/api/map", summary="2-D UMAP layout of all decoder rows, with named clusters")
    async def feature_map() -> JSONResponse:
        return await computed(service.map)

    index = STATIC / "index.html"

    for page in PAGES:
        app.add_api_route(page, lambda: FileResponse(index), include_in_schema=False)

    @app.get("/feature/{feature}", include_in_schema=False)
    def feature_page(feature: int) -> FileResponse:
        return FileResponse(index)

    app.mount("/static", StaticFiles(directory=STATIC), name="static")
    return app

"""The FastAPI app: a JSON API over :class:`AppService` plus the static single-page UI.

Every page is the same ``index.html``; its script reads the path (``/``, ``/feature/12``,
``/families``, ``/map``) and the query string, so a steered search is a shareable URL.
Swagger/ReDoc pages are off because they load their assets from a CDN and the app must work
offline; the OpenAPI schema itself is served at ``/api/openapi.json``.
"""

from __future__ import annotations

from importlib import resources
from pathlib import Path
from typing import Annotated, Any

from fastapi import FastAPI, HTTPException, Query, Request
from fastapi import Path as PathParam
from fastapi.responses import FileResponse, JSONResponse
from fastapi.staticfiles import StaticFiles

from disentangle.app.service import AppService
from disentangle.errors import DisentangleError
from disentangle.search.request import (
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


def create_app(workspace: str | Path, sae: str | None = None) -> FastAPI:
    """An app over one workspace's SAE (default: the latest), loaded once, read-only."""
    return build_app(AppService.open(workspace, sae))


def build_app(service: AppService) -> FastAPI:
    """The app over an already loaded service (tests reuse one service across apps)."""
    service.warm()
    app = FastAPI(title="disentangle", version="1", docs_url=None, redoc_url=None,
                  openapi_url="/api/openapi.json",
                  description="Steerable, explained semantic search over SAE features.")

    @app.exception_handler(DisentangleError)
    async def user_error(_: Request, error: DisentangleError) -> JSONResponse:
        return JSONResponse(status_code=422, content={"detail": str(error)})

    @app.get("/api/info", summary="The SAE served, what optional data exists, and the limits")
    def info() -> dict[str, Any]:
        return service.info()

    @app.get("/api/search", summary="Steered search with explained hits and slider state")
    def search(
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
    ) -> dict[str, Any]:
        request = SearchRequest(q, k, tuple(e), tuple(fe), year or None,
                                tuple(c for c in cat if c.strip()), tuple(require),
                                tuple(exclude), mode)
        return service.search(request)

    @app.get("/api/features/lookup", summary="Find features by (part of) their label")
    def lookup(
        q: Annotated[str, Query(min_length=1, max_length=MAX_LOOKUP_CHARS)],
        limit: Annotated[int, Query(ge=1, le=50)] = 10,
    ) -> dict[str, Any]:
        return service.lookup(q, limit)

    @app.get("/api/features/{feature}", summary="Everything the feature page shows")
    def feature(feature: Annotated[int, PathParam(ge=0)],
                top: Annotated[int, Query(ge=1, le=50)] = 10) -> dict[str, Any]:
        try:
            service.check_feature(feature)
        except KeyError as error:
            raise HTTPException(404, error.args[0]) from None
        return service.feature(feature, top)

    @app.get("/api/families", summary="The family tree (empty until families are built)")
    def families() -> dict[str, Any]:
        return service.family_tree()

    @app.get("/api/families/{family}", summary="One family with its members")
    def family(family: Annotated[int, PathParam(ge=0)]) -> dict[str, Any]:
        try:
            return service.family(family)
        except KeyError as error:
            raise HTTPException(404, error.args[0]) from None

    @app.get("/api/map", summary="2-D projection of all decoder rows, for the feature map")
    def feature_map() -> dict[str, Any]:
        return service.map()

    index = STATIC / "index.html"

    for page in PAGES:
        app.add_api_route(page, lambda: FileResponse(index), include_in_schema=False)

    @app.get("/feature/{feature}", include_in_schema=False)
    def feature_page(feature: int) -> FileResponse:
        return FileResponse(index)

    app.mount("/static", StaticFiles(directory=STATIC), name="static")
    return app

"""The web app: steerable search, feature pages, families and a feature map over one SAE."""

from disentangle.app.server import build_app, create_app
from disentangle.app.service import AppService, SearchRequest

__all__ = ["AppService", "SearchRequest", "build_app", "create_app"]

"""Serving safely: loopback host names only, a clear --host error before loading."""

from __future__ import annotations

import pytest
from fastapi.testclient import TestClient

from disentangle.app.server import build_app, check_bind_host
from disentangle.app.service import AppService
from disentangle.errors import DisentangleError


@pytest.fixture(scope="module")
def loopback_client(workspaces: dict) -> TestClient:
    return TestClient(build_app(AppService.open(workspaces["bare"]), loopback_only=True))


@pytest.mark.parametrize("host", ["localhost:8000", "127.0.0.1:8000", "[::1]:8000", "localhost",
                                  "127.0.0.2"])
def test_loopback_names_are_served(loopback_client, host):
    assert loopback_client.get("/api/info", headers={"host": host}).status_code == 200


@pytest.mark.parametrize("host", ["evil.example:8000", "evil.example", "10.0.0.1", "",
                                  "localhost.evil.example", "[::2]:80"])
def test_other_host_names_are_refused_against_dns_rebinding(loopback_client, host):
    response = loopback_client.get("/api/info", headers={"host": host})
    assert response.status_code == 400 and "localhost names only" in response.text


def test_bind_host_is_checked_before_loading():
    assert check_bind_host("127.0.0.1") and check_bind_host("localhost") and check_bind_host("::1")
    assert not check_bind_host("0.0.0.0")
    with pytest.raises(DisentangleError, match="neither an IP address nor a known host name"):
        check_bind_host("not-an-ip")

"""Hostile query strings against every API endpoint (a seeded generator): never a 5xx."""

from __future__ import annotations

from pathlib import Path
from urllib.parse import quote

import numpy as np
import pytest
from fastapi.testclient import TestClient

from disentangle.app import create_app

REQUESTS = 600
ATOMS = ["0", "1", "7", "-1", "47", "48", "99999", "²", "٣", "①", "𝟗", "１２", "9" * 40,
         "9" * 5000, "1e309", "nan", "inf", "-inf", "-0", "0x10", "1_000", " 3 ", "", " ",
         "x0.5", "up", "up2", "upx", "off", "+", "-", "+0.5", "*2", "x", ":", "::", "dark matter",
         "galaxies", "%", "%FF", "\x00", "'", '"', "<script>", "\u202e", "\ud7ff", "é" * 300,
         "a" * 1001, "2015", "2015-", "-2017", "2017-2015", "20150-1", "astro-ph", "cs.LG"]
ENDPOINT_PARAMS = {
    "/api/search": ["q", "k", "e", "fe", "year", "cat", "require", "exclude", "mode"],
    "/api/features/lookup": ["q", "limit"],
    "/api/features/{x}": ["top"],
    "/api/families/{x}": [],
    "/feature/{x}": [],
    "/api/info": ["q"],
}


def atom(rng: np.random.Generator) -> str:
    """One value: an atom, two joined by ':' (edit syntax), or random code points."""
    pick = rng.random()
    if pick < 0.5:
        return str(rng.choice(ATOMS))
    if pick < 0.8:
        return f"{rng.choice(ATOMS)}:{rng.choice(ATOMS)}"
    return "".join(chr(int(c)) for c in rng.integers(32, 0x2FFFF, size=rng.integers(1, 12))
                   if not 0xD800 <= c <= 0xDFFF)


def url(rng: np.random.Generator) -> str:
    path = str(rng.choice(list(ENDPOINT_PARAMS)))
    names = ENDPOINT_PARAMS[path]
    path = path.replace("{x}", quote(atom(rng), safe=""))
    pairs = []
    for _ in range(int(rng.integers(0, 6))):
        name = str(rng.choice(names)) if names and rng.random() < 0.9 else "zz"
        value = atom(rng)
        raw = value if "%" in value and rng.random() < 0.5 else quote(value, safe="")
        pairs.append(f"{name}={raw}")  # raw '%FF' is an invalid UTF-8 escape on purpose
    if path == "/api/search" and rng.random() < 0.8:
        pairs.append("q=" + quote(atom(rng), safe=""))
    return path + ("?" + "&".join(pairs) if pairs else "")


@pytest.fixture(scope="module")
def client(interpreted: Path) -> TestClient:
    return TestClient(create_app(interpreted, "tiny"), raise_server_exceptions=False)


def test_no_query_string_makes_a_server_error(client: TestClient) -> None:
    rng = np.random.default_rng(20261202)
    failures = []
    statuses: dict[int, int] = {}
    for _ in range(REQUESTS):
        target = url(rng)
        status = client.get(target).status_code
        statuses[status] = statuses.get(status, 0) + 1
        if status >= 500:
            failures.append((status, target[:200]))
    assert failures == [], failures[:10]
    assert statuses.get(200, 0) > REQUESTS // 10 and statuses.get(422, 0) > REQUESTS // 10

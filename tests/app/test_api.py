"""Every API endpoint with good and bad input, on a bare and on a rich workspace."""

from __future__ import annotations

import math

import pytest
from fastapi.testclient import TestClient

from disentangle.app import create_app
from disentangle.search.request import MAX_EDITS, MAX_K, MAX_QUERY_CHARS

from .conftest import snapshot

QUERY = "exoplanet transit of a host star"


def search(client: TestClient, **params: object) -> dict:
    response = client.get("/api/search", params={"q": QUERY, **params})
    assert response.status_code == 200, response.text
    return response.json()


def detail(response) -> str:
    body = response.json()["detail"]
    return body if isinstance(body, str) else " ".join(d["msg"] for d in body)


# -- info, pages, schema ---------------------------------------------------------------------

def test_info_says_what_exists(bare_client, rich_client):
    bare = bare_client.get("/api/info").json()
    assert bare["sae"] == "tiny" and bare["n_features"] == 32 and bare["documents"] == 60
    assert not bare["has_labels"] and not bare["has_families"] and bare["larger_saes"] == []
    rich = rich_client.get("/api/info").json()
    assert rich["has_labels"] and rich["has_families"] and rich["larger_saes"] == ["wide"]
    assert rich["limits"]["k"] == MAX_K


@pytest.mark.parametrize("path", ["/", "/families", "/map", "/feature/3"])
def test_pages_serve_the_single_page_app(bare_client, path):
    response = bare_client.get(path)
    assert response.status_code == 200
    assert "/static/app.js" in response.text


def test_static_assets_are_local(bare_client):
    page = bare_client.get("/").text
    assert "http://" not in page and "https://" not in page  # nothing from a CDN
    assert bare_client.get("/static/app.js").status_code == 200
    assert bare_client.get("/static/app.css").status_code == 200


def test_openapi_lists_the_api_and_cdn_docs_are_off(bare_client):
    schema = bare_client.get("/api/openapi.json").json()
    assert {"/api/search", "/api/features/{feature}", "/api/features/lookup", "/api/families",
            "/api/families/{family}", "/api/map", "/api/info"} <= set(schema["paths"])
    assert bare_client.get("/docs").status_code == 404


# -- search ----------------------------------------------------------------------------------

def test_search_returns_explained_hits_and_sliders(rich_client):
    data = search(rich_client, k=5)
    assert len(data["hits"]) == 5
    hit = data["hits"][0]
    assert {"title", "year", "categories", "score", "snippet", "explanation", "other"} <= set(hit)
    assert "exoplanet" in hit["title"] or "transit" in hit["title"] or "host star" in hit["title"]
    total = sum(c["contribution"] for c in hit["explanation"]) + hit["other"]
    assert math.isclose(total, hit["score"], rel_tol=1e-4, abs_tol=1e-5)
    sliders = data["sliders"]
    assert sliders and all(not s["edited"] and s["value"] == s["original"] for s in sliders)
    assert all(s["label"] for s in sliders)


def test_edits_change_results_and_slider_state(rich_client):
    before = search(rich_client, k=10)
    top = before["sliders"][0]["feature"]
    after = search(rich_client, k=10, e=[f"{top}:off", "7:up1"])
    assert [h["score"] for h in after["hits"]] != [h["score"] for h in before["hits"]]
    state = {s["feature"]: s for s in after["sliders"]}
    # next to a raise, "off" halves the feature (searcher.cap_lowering); the slider shows it
    assert state[top]["value"] == pytest.approx(state[top]["original"] / 2)
    assert state[top]["edited"]
    assert state[7]["edited"] and state[7]["value"] == pytest.approx(state[7]["typical"])
    assert after["drift"] < 1 and after["blend"] > 0 and 0 < after["boost_share"] < 1
    assert any(h["boost"] for h in after["hits"])
    for hit in after["hits"]:
        assert math.isclose(hit["similarity"] + hit["boost"], hit["score"], abs_tol=1e-5)
    vector_only = search(rich_client, k=10, e=[f"{top}:off", "7:up1"], blend=0)
    assert vector_only["blend"] == 0 and not any(h["boost"] for h in vector_only["hits"])
    assert vector_only["drift"] == after["drift"]
    assert after["pool"] > 0 and after["pool_rule"] == "auto"
    fixed = search(rich_client, k=10, e=[f"{top}:off", "7:up1"], pool=40)
    assert fixed["pool"] == 40 and fixed["pool_rule"] == "fixed"
    everywhere = search(rich_client, k=10, e=[f"{top}:off", "7:up1"], pool=0)
    assert everywhere["pool"] is None and everywhere["drift"] == after["drift"]
    assert everywhere["pool_rule"] == "all"


def test_search_edits_by_label(rich_client, workspaces):
    data = search(rich_client, e=["exoplanet transits:off"])
    assert data["edits"][0]["feature"] == workspaces["order"][0]


def test_family_edits_and_family_sliders(rich_client, workspaces):
    plain = search(rich_client)
    assert plain["family_sliders"], "the query's top features belong to family 0"
    data = search(rich_client, fe=["1:up0.8"])
    assert {f["family"] for f in data["family_sliders"]} >= {1}
    members = {workspaces["order"][i] for i in (1, 4, 5, 6)}
    assert {e["feature"] for e in data["edits"]} == members


def test_filters_restrict_hits(rich_client):
    data = search(rich_client, cat=["cs.LG"], year="2011-2012")
    assert data["hits"]
    for hit in data["hits"]:
        assert "cs.LG" in hit["categories"] and 2011 <= hit["year"] <= 2012


@pytest.mark.parametrize("mode", ["residual", "reconstruction", "clamp"])
def test_modes(rich_client, mode):
    assert search(rich_client, mode=mode, e=["3:x2"])["mode"] == mode


def test_search_without_labels_or_families(bare_client):
    data = search(bare_client)
    assert data["hits"] and data["family_sliders"] == []
    assert all(s["label"] is None and s["hint"] for s in data["sliders"])


@pytest.mark.parametrize(("params", "message"), [
    ({"q": ""}, "at least 1"),
    ({"q": "   "}, "1 to"),
    ({"q": "x" * (MAX_QUERY_CHARS + 1)}, "at most"),
    ({"q": QUERY, "k": 0}, "greater than or equal"),
    ({"q": QUERY, "k": MAX_K + 1}, "less than or equal"),
    ({"q": QUERY, "k": "ten"}, "integer"),
    ({"q": QUERY, "e": [f"{i}:off" for i in range(MAX_EDITS + 1)]}, "at most"),
    ({"q": QUERY, "e": ["5"]}, "not understood"),
    ({"q": QUERY, "e": ["5:lots"]}, "not a number"),
    ({"q": QUERY, "e": ["5:1e9"]}, "out of range"),
    ({"q": QUERY, "e": ["5:nan"]}, "out of range"),
    ({"q": QUERY, "e": ["999:1"]}, "does not exist"),
    ({"q": QUERY, "e": ["no such label:off"]}, "no feature"),
    ({"q": QUERY, "fe": ["9:up1"]}, "no family"),
    ({"q": QUERY, "mode": "sideways"}, "pattern"),
    ({"q": QUERY, "blend": -0.5}, "greater than or equal"),
    ({"q": QUERY, "blend": 9}, "less than or equal"),
    ({"q": QUERY, "pool": -1}, "pool must be auto, all, or a number"),
    ({"q": QUERY, "pool": "some"}, "pool must be auto, all, or a number"),
    ({"q": QUERY, "year": "last year"}, "not understood"),
    ({"q": QUERY, "e": ["²:1"]}, "'²'"),
    ({"q": QUERY, "fe": ["²:1"]}, "'²'"),
    ({"q": QUERY, "require": ["²"]}, "'²'"),
    ({"q": QUERY, "exclude": ["9" * 5000]}, "too large"),
    ({"q": QUERY, "e": ["9" * 5000 + ":1"]}, "too large"),
    ({"q": QUERY, "fe": ["9" * 5000 + ":1"]}, "too large"),
])
def test_bad_search_input_is_a_clear_422(rich_client, params, message):
    response = rich_client.get("/api/search", params=params)
    assert response.status_code == 422
    assert message in detail(response)


def test_family_edit_without_families_is_a_clear_422(bare_client):
    response = bare_client.get("/api/search", params={"q": QUERY, "fe": ["0:up1"]})
    assert response.status_code == 422 and "no families" in detail(response)


# -- lookup ----------------------------------------------------------------------------------

def test_lookup_by_label_id_and_family(rich_client, workspaces):
    found = rich_client.get("/api/features/lookup", params={"q": "EXOPLANET"}).json()
    assert [f["feature"] for f in found["features"]] == [workspaces["order"][0]]
    assert found["matched_on"] == "labels"
    assert found["families"] == []
    by_id = rich_client.get("/api/features/lookup", params={"q": "12"}).json()
    assert by_id["features"][0]["feature"] == 12
    families = rich_client.get("/api/features/lookup", params={"q": "planets and"}).json()
    assert [f["family"] for f in families["families"]] == [0]


def test_lookup_without_labels_matches_titles(bare_client):
    found = bare_client.get("/api/features/lookup", params={"q": "exoplanet", "limit": 3}).json()
    assert found["matched_on"] == "top titles" and 1 <= len(found["features"]) <= 3


@pytest.mark.parametrize("q", ["²", "٣", "9" * 200])
def test_lookup_of_non_ascii_or_huge_numbers_is_no_500(bare_client, q):
    response = bare_client.get("/api/features/lookup", params={"q": q})
    assert response.status_code in (200, 422), response.text


@pytest.mark.parametrize("params", [{"q": ""}, {"q": "x" * 201}, {"q": "a", "limit": 0},
                                    {"q": "a", "limit": 51}, {}])
def test_bad_lookup_input(bare_client, params):
    assert bare_client.get("/api/features/lookup", params=params).status_code == 422


# -- feature page ----------------------------------------------------------------------------

def test_feature_page_rich(rich_client, workspaces):
    parent = workspaces["order"][0]
    data = rich_client.get(f"/api/features/{parent}").json()
    assert data["label"] == "exoplanet transits"
    assert data["scores"]["pearson"] == pytest.approx(0.1 + 0.8 * parent / 31)
    assert sum(data["histogram"]["counts"]) == data["active_documents"] > 0
    assert data["histogram"]["inactive"] + data["active_documents"] == 60
    activations = [d["activation"] for d in data["top_documents"]]
    assert activations == sorted(activations, reverse=True) and len(activations) <= 10
    cosines = [n["cosine"] for n in data["similar"]["nearest"]]
    assert cosines == sorted(cosines, reverse=True) and parent not in {
        n["feature"] for n in data["similar"]["nearest"]}
    assert data["cooccurring"] and all(c["together"] > 0 for c in data["cooccurring"])
    assert [f["family"] for f in data["families"]] == [0]
    assert [c["feature"] for c in data["children"]] == workspaces["order"][1:4]
    assert data["splits"][0]["sae"] == "wide" and data["splits"][0]["n_features"] == 64


def test_feature_page_nan_score_is_null(rich_client):
    assert rich_client.get("/api/features/0").json()["scores"]["f1"] is None


def test_feature_page_bare(bare_client):
    data = bare_client.get("/api/features/0", params={"top": 3}).json()
    assert data["label"] is None and data["scores"] == {} and data["families"] == []
    assert data["splits"] == [] and len(data["top_documents"]) <= 3


@pytest.mark.parametrize(("path", "status"), [
    ("/api/features/32", 404), ("/api/features/-1", 422), ("/api/features/abc", 422),
    ("/api/features/0?top=0", 422), ("/api/features/0?top=51", 422)])
def test_bad_feature_requests(bare_client, path, status):
    assert bare_client.get(path).status_code == status


# -- families and map ------------------------------------------------------------------------

def test_family_tree_nests_families(rich_client):
    tree = rich_client.get("/api/families").json()
    assert tree["available"] and tree["count"] == 2
    [root] = tree["roots"]
    assert root["family"] == 0 and [c["family"] for c in root["children"]] == [1]
    one = rich_client.get("/api/families/1").json()
    assert one["parent_family"]["family"] == 0 and len(one["members"]) == 4
    assert rich_client.get("/api/families/7").status_code == 404


def test_families_absent(bare_client):
    assert bare_client.get("/api/families").json() == {"available": False, "count": 0,
                                                       "roots": []}
    assert bare_client.get("/api/families/0").status_code == 404


def test_map(rich_client, bare_client):
    data = rich_client.get("/api/map").json()
    assert len(data["x"]) == len(data["y"]) == len(data["density"]) == len(data["cluster"]) == 32
    assert data["labelled"] and data["method"] == "umap"
    assert {f for f in data["family"] if f is not None} == {0}
    assert data["family_labels"] == {"0": "planets and stars"}
    assert set(data["category"]) <= {"astro-ph.GA", "cs.LG", "astro-ph.EP", None}
    assert "exoplanet transits" in data["label"]
    bare = bare_client.get("/api/map").json()
    assert not bare["labelled"] and set(bare["family"]) == {None}


# -- read-only -------------------------------------------------------------------------------

def test_the_app_never_writes_to_the_workspace(workspaces):
    before = snapshot(workspaces["rich"])
    client = TestClient(create_app(workspaces["rich"], "tiny"))
    search(client, e=["3:x2"], fe=["0:up0.5"])
    client.get("/api/features/3")
    client.get("/api/map")
    client.get("/api/families")
    assert snapshot(workspaces["rich"]) == before

"""A contributor can reach no other contributor's data: every route the app registers, with every method, is
requested with the other contributor's id, months and file names substituted wherever the route takes a
parameter (and as query and form fields where it takes none), and nothing of theirs may come back."""

from __future__ import annotations

import duckdb
import pytest
from starlette.routing import Mount, Route

from portal.conftest import PUBLISHER

NOT_FOUND_MARK = "찾을 수 없습니다"


def _secrets_of(home, contributor: str) -> list[str]:
    """Strings that only a page showing that contributor's data would contain."""
    conn = duckdb.connect(str(home / "onett.duckdb"), read_only=True)
    try:
        files = [r[0] for r in conn.execute("SELECT DISTINCT file FROM uploads WHERE contributor_id = ?",
                                            [contributor]).fetchall()]
        amounts = [f"{int(r[0]):,}" for r in conn.execute(
            "SELECT amount FROM payouts WHERE contributor_id = ? AND amount > 0", [contributor]).fetchall()]
        months = [r[0].strftime("%Y-%m") for r in conn.execute(
            "SELECT period FROM payouts WHERE contributor_id = ?", [contributor]).fetchall()]
    finally:
        conn.close()
    return [contributor, *files, *amounts], months


def _paths(route: Route, ids: list[str], months: list[str]) -> list[str]:
    path = route.path
    if not route.param_convertors:
        return [path]
    found = []
    for contributor in ids:
        for month in months:
            found.append(path.replace("{contributor}", contributor).replace("{month}", month))
    return sorted(set(found))


@pytest.mark.parametrize("viewer", ["bob", "copy-desk"])
def test_no_route_shows_another_contributors_data(home, browser, portal, viewer):
    """bob has no data yet; copy-desk's documents are all copies of others' (its removal reasons must not
    name whose)."""
    secrets, months = _secrets_of(home, PUBLISHER)
    assert months and len(secrets) > 3
    if viewer == "copy-desk":
        from onett_portal.auth import add_account

        add_account(portal.state.portal.store, "copy-desk", "contributor", "copy-desk-password")
        secrets += ["moby-dick-club", "판례연구회", "chapters-1.jsonl.gz", "prec-214349"]
        bob = browser()
        assert bob.login("copy-desk", "copy-desk-password").status_code == 303
        assert "found-online.jsonl" in bob.get("/uploads").text  # it does see its own files
    else:
        bob = browser("bob")
    bob.upload([("mine.txt", ("밥의 글입니다. " * 20).encode())])
    landing_before = sorted(p.name for p in (home / "landing" / PUBLISHER).iterdir())

    ids = [PUBLISHER, "bob-press", "nobody", "..", "%2e%2e", "한빛출판사%2F..", "copy-desk"]
    checked = set()
    for route in portal.routes:
        if isinstance(route, Mount):
            assert route.path == "/static"
            continue
        assert isinstance(route, Route)
        for method in sorted(route.methods - {"HEAD"}):
            for path in _paths(route, ids, months + ["2026-13", "1999-01"]):
                query = {"contributor": PUBLISHER, "contributor_id": PUBLISHER, "month": months[0], "lang": "en"}
                if method == "GET":
                    response = bob.get(path, params=query)
                else:
                    response = bob.post(path, params=query, data={**query, "csrf": bob.csrf},
                                        files=[("files", ("x.txt", b"not theirs " * 20))],
                                        headers={"x-csrf-token": bob.csrf, "accept": "application/json"})
                body = response.text
                for secret in secrets:
                    assert secret not in body, (method, path, secret)
                # the recitation API takes an API key, never a session: a signed-in contributor gets 401
                allowed = (401,) if route.path == "/v1/recitation" else (200, 303, 400, 404)
                assert response.status_code in allowed, (method, path, response.status_code)
                if response.status_code == 303:
                    assert not response.headers["location"].startswith("/operator")
                checked.add((method, route.path))
                if route.path == "/logout":  # keep testing signed in
                    assert bob.login(viewer, None if viewer == "bob" else "copy-desk-password").status_code == 303

    registered = {(m, r.path) for r in portal.routes if isinstance(r, Route) for m in r.methods - {"HEAD"}}
    assert checked == registered
    # Nothing was written into the other contributor's folder; bob's uploads went to his own.
    assert sorted(p.name for p in (home / "landing" / PUBLISHER).iterdir()) == landing_before
    assert (home / "landing" / ("bob-press" if viewer == "bob" else "copy-desk") / "mine.txt").exists()


def test_another_contributors_address_looks_like_a_missing_one(browser):
    bob = browser("bob")
    theirs = bob.get(f"/operator/contributors/{PUBLISHER}")
    missing = bob.get("/operator/contributors/does-not-exist")
    assert theirs.status_code == missing.status_code == 404
    assert theirs.text == missing.text and NOT_FOUND_MARK in theirs.text
    # A month the other contributor was paid for, but bob was not: the same 404 as a month nobody was paid for.
    assert bob.get("/statements/2026-10").text == bob.get("/statements/1999-01").text
    # The APIs answer with bob's own data whatever is asked.
    assert bob.get("/api/files", params={"contributor": PUBLISHER}).json()["contributor_id"] == "bob-press"
    statement = bob.get("/api/statement", params={"contributor_id": PUBLISHER}).json()
    assert statement["contributor_id"] == "bob-press" and statement["contribution_tokens"] == 0
    assert bob.get("/api/operator").status_code == 404


def test_operators_cannot_upload_as_a_contributor_and_contributors_cannot_operate(browser):
    ops = browser("ops")
    assert ops.upload([("a.txt", b"x" * 100)]).status_code == 404
    alice = browser("alice")
    for path in ["/operator", "/operator/revenue", f"/operator/contributors/{PUBLISHER}", "/api/operator"]:
        assert alice.get(path).status_code == 404, path

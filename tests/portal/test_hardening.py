"""The portal under malformed and hostile requests: every bad parameter is a 400/404 with the usual headers, a
sign-in body too large is refused before it is read, a browser that signed in before gets past a stranger's
guessing, and client addresses come from the connection unless proxies are named."""

from __future__ import annotations

import pytest

HEADERS = ("content-security-policy", "x-content-type-options", "x-frame-options", "referrer-policy")


def _secure(response) -> None:
    for name in HEADERS:
        assert name in response.headers, (response.status_code, name)


@pytest.mark.parametrize("path", [
    "/statements/0000-01", "/statements/２０２６-１０", "/statements/2026-13", "/statements/9999-99/csv",
    "/?month=0000-01", "/?month=２０２６-１０", "/?month=1999-1", "/disputes/abc/reply",
])
def test_malformed_months_are_not_found_never_an_error(browser, path):
    alice = browser("alice")
    response = alice.get(path)
    assert response.status_code in (200, 303, 400, 404, 405), (path, response.status_code)
    _secure(response)


def test_odd_tokens_and_marks_are_refused_or_ignored(browser):
    alice, ops = browser("alice"), browser("ops")
    for token in ("é", "토큰", "\u0000", "x" * 5000):
        response = alice.post("/statements/2026-10/dispute", data={"csrf": token, "message": "x"})
        assert response.status_code == 404, token
        _secure(response)
    assert alice.post("/upload", headers={"x-csrf-token": "é".encode("latin-1")},
                      files=[("files", ("a.txt", b"x"))]).status_code in (400, 403, 404)
    for marked in ("xyz", "1999-01", "0000-01"):  # nothing was marked paid: nothing is said to be
        page = ops.get(f"/operator?marked={marked}")
        assert page.status_code == 200 and 'class="note ok"' not in page.text, marked
        _secure(page)


def test_an_unexpected_error_keeps_the_security_headers(home, monkeypatch):
    from starlette.testclient import TestClient

    from onett_portal.app import Portal, create_app

    def broken(self, request):
        raise RuntimeError("boom")

    monkeypatch.setattr(Portal, "healthz", broken)
    response = TestClient(create_app(), raise_server_exceptions=False).get("/healthz")
    assert response.status_code == 500 and "boom" not in response.text
    _secure(response)


def test_a_sign_in_body_too_large_is_refused_unread(browser):
    anonymous = browser()
    anonymous.get("/login")
    big = anonymous.post("/login", data={"name": "alice", "password": "x" * (1 << 20), "csrf": "t"})
    assert big.status_code == 413
    _secure(big)
    many = anonymous.post("/login", files=[("f", ("a.bin", b"\0" * (20 << 20)))])
    assert many.status_code == 413


def test_a_known_browser_signs_in_while_someone_else_guesses(browser):
    alice = browser("alice")  # signed in once: the browser is known
    assert "onett_device" in alice.client.cookies
    alice.client.cookies.delete("onett_session")
    stranger = browser()
    for _ in range(8):
        stranger.login("alice", "guess")
    assert stranger.login("alice").status_code == 429  # a new browser is slowed down
    assert alice.login("alice").status_code == 303  # the partner's own browser is not


def test_client_addresses_come_from_the_connection_unless_proxies_are_named(home, monkeypatch):
    import uvicorn

    from onett_cli.main import main

    calls = []
    monkeypatch.setattr(uvicorn, "run", lambda app, **kwargs: calls.append(kwargs))
    assert main(["portal", "--port", "0"]) == 0
    assert calls[-1]["proxy_headers"] is False
    monkeypatch.setenv("ONETT_PORTAL_TRUSTED_PROXIES", "10.0.0.5, 10.0.0.6")
    assert main(["portal", "--port", "0"]) == 0
    assert calls[-1]["proxy_headers"] is True and calls[-1]["forwarded_allow_ips"] == "10.0.0.5,10.0.0.6"


def test_data_files_are_the_platform_users_alone(home, portal):
    import stat

    for name in ("portal.sqlite", "onett.duckdb", "consent.sqlite"):
        path = home / name
        if path.exists():
            assert stat.S_IMODE(path.stat().st_mode) & 0o077 == 0, (name, oct(path.stat().st_mode))
    assert stat.S_IMODE((home / "portal.sqlite").stat().st_mode) == 0o600
    assert stat.S_IMODE((home / "onett.duckdb").stat().st_mode) == 0o600
    for folder in ("data", "landing"):
        assert stat.S_IMODE((home / folder).stat().st_mode) & 0o077 == 0, folder

"""Accounts, password hashing, sessions and the sign-in rate limit; the `onett account` command."""

from __future__ import annotations

import io
import time

import pytest

from onett_portal.auth import (
    AccountError, SCRYPT_N, Sessions, SignIn, TooManyAttempts, add_account, hash_password, verify_password,
)
from onett_portal.store import PortalStore


@pytest.fixture
def store(tmp_path) -> PortalStore:
    return PortalStore(tmp_path / "portal.sqlite")


def test_passwords_are_scrypt_hashed_with_a_salt():
    first, second = hash_password("correct horse"), hash_password("correct horse")
    assert first.startswith(f"scrypt${SCRYPT_N}$8$1$") and first != second  # a random salt each time
    assert "correct horse" not in first
    assert verify_password("correct horse", first) and verify_password("correct horse", second)
    assert not verify_password("correct horsf", first)
    assert not verify_password("x", "not a hash")


def test_accounts_are_validated(store):
    add_account(store, "alice", "contributor", "long enough", "한빛출판사")
    assert store.account("alice").contributor_id == "한빛출판사"
    add_account(store, "carol", "contributor", "long enough")  # the contributor id defaults to the name
    assert store.account("carol").contributor_id == "carol"
    for bad in [dict(name="alice", role="contributor", password="long enough"),  # exists
                dict(name="dave", role="admin", password="long enough"),
                dict(name="dave", role="contributor", password="short"),
                dict(name="dave", role="contributor", password="long enough", contributor_id="a/b"),
                dict(name="dave", role="contributor", password="long enough", contributor_id="x|y"),
                dict(name="dave", role="contributor", password="long enough", contributor_id=".hidden"),
                dict(name="has space", role="operator", password="long enough"),
                dict(name="eve", role="operator", password="long enough", contributor_id="alice")]:
        with pytest.raises(AccountError):
            add_account(store, bad.pop("name"), bad.pop("role"), bad.pop("password"), **bad)
    assert [a.name for a in store.accounts()] == ["alice", "carol"]


def test_sessions_store_only_a_hash_and_expire(store):
    account = add_account(store, "alice", "contributor", "long enough")
    sessions = Sessions(store, hours=8)
    token, signed = sessions.start(account)
    assert sessions.lookup(token).account.name == "alice" and signed.csrf
    with store._connect() as conn:
        stored = [r[0] for r in conn.execute("SELECT token_hash FROM sessions")]
    assert token not in stored and len(stored) == 1
    assert sessions.lookup("guess") is None and sessions.lookup(None) is None
    with store._connect() as conn:
        conn.execute("UPDATE sessions SET expires_at = ?", [time.time() - 1])
    assert sessions.lookup(token) is None  # expired
    token, _ = sessions.start(account)
    sessions.end(token)
    assert sessions.lookup(token) is None  # signed out
    token, _ = sessions.start(account)
    store.remove_account("alice")
    assert sessions.lookup(token) is None  # removed accounts lose their sessions


def test_sign_in_is_rate_limited_per_account_and_per_address(store):
    add_account(store, "alice", "contributor", "right password")
    sign_in = SignIn(store)
    for _ in range(5):
        assert sign_in.check("alice", "wrong", "10.0.0.1") is None
    with pytest.raises(TooManyAttempts) as locked:
        sign_in.check("alice", "right password", "10.0.0.2")  # even the right password, from anywhere
    assert 1 <= locked.value.minutes <= 15
    # Another address trying many names is stopped too.
    for n in range(5):
        assert sign_in.check(f"nobody{n}", "guess", "10.0.0.9") is None
    with pytest.raises(TooManyAttempts):
        sign_in.check("carol", "guess", "10.0.0.9")
    # The window passes: the failures age out.
    with store._connect() as conn:
        conn.execute("UPDATE signin_failures SET at = at - 16 * 60")
    assert sign_in.check("alice", "right password", "10.0.0.1").name == "alice"


def test_account_command(onett, monkeypatch):
    monkeypatch.setattr("sys.stdin", io.StringIO("a good password\n"))
    out = onett.ok("account", "add", "alice", "--role", "contributor", "--contributor", "한빛출판사", "--password-stdin")
    assert "alice" in out and "한빛출판사" in out
    monkeypatch.setattr("sys.stdin", io.StringIO("another password\n"))
    onett.ok("account", "add", "ops", "--role", "operator", "--password-stdin")
    listing = onett.ok("account", "list")
    assert "alice\tcontributor\t한빛출판사" in listing and "ops\toperator" in listing
    monkeypatch.setattr("sys.stdin", io.StringIO("short\n"))
    code, _ = onett.cli("account", "add", "carol", "--role", "contributor", "--password-stdin")
    assert code == 2
    onett.ok("account", "remove", "alice")
    assert "alice" not in onett.ok("account", "list")
    assert onett.cli("account", "remove", "alice")[0] == 2
    store = PortalStore(onett.home / "portal.sqlite")
    assert verify_password("another password", store.account("ops").password_hash)

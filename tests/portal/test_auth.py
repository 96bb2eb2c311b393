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


def _age(store, seconds: float) -> None:
    """Every recorded attempt happened `seconds` earlier."""
    with store._connect() as conn:
        conn.execute("UPDATE signin_failures SET at = at - ?", [seconds])


def test_guessing_at_an_account_is_slowed_by_doubling_delays_never_locked(store):
    add_account(store, "alice", "contributor", "right password")
    sign_in = SignIn(store)
    for _ in range(5):
        assert sign_in.check("alice", "wrong", "10.0.0.1") is None
    with pytest.raises(TooManyAttempts) as slowed:
        sign_in.check("alice", "right password", "10.0.0.2")  # even the right password, from anywhere
    assert slowed.value.seconds == 1  # 2^(5-5) s after the latest failure
    waits = []
    for _ in range(8):  # each failure doubles the delay, up to a minute
        _age(store, 70)
        assert sign_in.check("alice", "wrong", f"10.0.1.{len(waits)}") is None
        with pytest.raises(TooManyAttempts) as slowed:
            sign_in.check("alice", "wrong", "10.0.2.1")
        waits.append(slowed.value.seconds)
    assert waits == [2, 4, 8, 16, 32, 60, 60, 60]
    _age(store, 61)  # a minute later the right password works: nobody can lock a partner out
    assert sign_in.check("alice", "right password", "10.0.0.2").name == "alice"
    assert store.failures_since("account:alice", 0) == []  # and the account's slate is clean


def test_an_address_guessing_many_accounts_is_stopped(store):
    sign_in = SignIn(store)
    for n in range(10):
        assert sign_in.check(f"nobody{n}", "guess", "10.0.0.9") is None
    with pytest.raises(TooManyAttempts):
        sign_in.check("carol", "guess", "10.0.0.9")
    _age(store, 16 * 60)  # the window passes: the failures age out
    assert sign_in.check("carol", "guess", "10.0.0.9") is None


def test_parallel_guesses_are_counted_before_the_password_is_hashed(store, monkeypatch):
    """30 guesses at once (the right password among them) from a new browser: only the first few are checked."""
    from concurrent.futures import ThreadPoolExecutor

    import onett_portal.auth as auth

    add_account(store, "alice", "contributor", "right password")
    checked, real = [], auth.verify_password
    monkeypatch.setattr(auth, "verify_password", lambda p, h: checked.append(p) or real(p, h))
    sign_in = SignIn(store)
    guesses = [f"guess {n}" for n in range(29)] + ["right password"]

    def attempt(password: str):
        try:
            return sign_in.check("alice", password, f"10.9.0.{len(password)}")
        except TooManyAttempts:
            return "throttled"

    with ThreadPoolExecutor(30) as pool:
        outcomes = list(pool.map(attempt, guesses))
    # Five attempts are free; the doubling delay lets at most a couple more through while the burst lasts.
    assert len(checked) <= 7, len(checked)
    assert outcomes.count("throttled") == 30 - len(checked)
    assert len(store.failures_since("account:alice", 0)) == len(checked) - (outcomes[-1] is not None and
                                                                              outcomes[-1] != "throttled")


def test_many_people_behind_one_address_sign_in_at_once(store):
    """An office or a proxy: 30 partners sign in in the same second from one address, none waits for the others."""
    from concurrent.futures import ThreadPoolExecutor

    for n in range(30):
        add_account(store, f"partner{n}", "contributor", f"password {n}!")
    sign_in = SignIn(store)
    with ThreadPoolExecutor(30) as pool:
        signed = list(pool.map(lambda n: sign_in.check(f"partner{n}", f"password {n}!", "10.1.1.1"), range(30)))
    assert [a.name for a in signed] == [f"partner{n}" for n in range(30)]
    assert store.failures_since("client:10.1.1.1", 0) == []


def test_a_known_browser_signs_in_whatever_others_guess(store):
    add_account(store, "alice", "contributor", "right password")
    sign_in = SignIn(store)
    device, _ = sign_in.remember_device(sign_in.check("alice", "right password", "10.0.0.1"))
    for n in range(40):  # someone else hammers the account from many addresses
        _age(store, 120)
        assert sign_in.check("alice", f"guess {n}", f"10.7.{n}.1") is None
    with pytest.raises(TooManyAttempts):
        sign_in.check("alice", "right password", "10.0.0.1")  # a new browser waits its minute at most
    assert sign_in.check("alice", "right password", "10.0.0.1", device).name == "alice"  # the known one does not
    assert sign_in.check("alice", "wrong", "10.0.0.1", "forged-device") is None  # a made-up cookie is no pass
    other, _ = sign_in.remember_device(store.account("alice"))
    add_account(store, "bob", "contributor", "bobs password")
    with pytest.raises(TooManyAttempts):  # a known browser that guesses is throttled on its own
        for n in range(6):
            sign_in.check("alice", f"guess {n}", "10.0.0.1", other)
    assert sign_in.check("alice", "right password", "10.0.0.1", device).name == "alice"
    assert sign_in.check("bob", "bobs password", "10.0.0.3", device).name == "bob"  # alice's browser, bob's rules


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

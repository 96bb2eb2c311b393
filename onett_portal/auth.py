"""Accounts, passwords, sessions and the sign-in rate limit.

Passwords: scrypt (memory-hard, in the standard library). Sessions: a random token in an HttpOnly,
SameSite=Strict cookie; only its SHA-256 is stored, with an absolute expiry. Every POST also carries the
session's CSRF token.

Sign-in: every attempt is counted before its password is hashed (parallel guesses cannot slip past the count), and
forgotten once the password proves right. Past a few failures in FAILURE_WINDOW, each further attempt waits a
delay that doubles per failure, per account and per client address (THROTTLES); the account's delay is capped
low, so guessing slows to a crawl while nobody can lock a partner out. A browser that signed in to the account
before (a device cookie) is throttled on its own, so a partner is never slowed by someone else's guesses."""

from __future__ import annotations

import base64
import hashlib
import hmac
import math
import secrets
import time
import unicodedata
from dataclasses import dataclass

from onett_domain.uploads import CONTRIBUTOR_ID_RULE, valid_contributor_id
from onett_portal.store import Account, PortalStore

SCRYPT_N, SCRYPT_R, SCRYPT_P = 2**14, 8, 1  # 16 MiB of memory per hash
MIN_PASSWORD_LENGTH = 8
FAILURE_WINDOW = 15 * 60  # seconds: attempts older than this no longer count
DEVICE_DAYS = 90  # a browser that signed in stays known this long
ROLES = ("contributor", "operator")


class AccountError(ValueError):
    pass


def _b64(data: bytes) -> str:
    return base64.b64encode(data).decode()


def hash_password(password: str) -> str:
    salt = secrets.token_bytes(16)
    digest = hashlib.scrypt(password.encode(), salt=salt, n=SCRYPT_N, r=SCRYPT_R, p=SCRYPT_P, dklen=32)
    return f"scrypt${SCRYPT_N}${SCRYPT_R}${SCRYPT_P}${_b64(salt)}${_b64(digest)}"


def verify_password(password: str, stored: str) -> bool:
    try:
        kind, n, r, p, salt, digest = stored.split("$")
        if kind != "scrypt":
            return False
        expected = base64.b64decode(digest)
        actual = hashlib.scrypt(password.encode(), salt=base64.b64decode(salt), n=int(n), r=int(r), p=int(p),
                                dklen=len(expected), maxmem=256 << 20)
    except (ValueError, TypeError):
        return False
    return hmac.compare_digest(actual, expected)


def same_token(posted, expected: str) -> bool:
    """A posted token (CSRF) equals the expected one: any text compares, in constant time, never raising."""
    return isinstance(posted, str) and hmac.compare_digest(posted.encode(), expected.encode())


# Checked against when the account does not exist, so a wrong name costs as long as a wrong password.
_DUMMY_HASH = hash_password(secrets.token_hex(16))


def normalize_name(name: str) -> str:
    return unicodedata.normalize("NFC", name.strip())


def add_account(store: PortalStore, name: str, role: str, password: str, contributor_id: str | None = None) -> Account:
    name = normalize_name(name)
    if not name or len(name) > 64 or any(c.isspace() or unicodedata.category(c).startswith("C") for c in name):
        raise AccountError(f"account name {name!r}: 1 to 64 characters, no spaces or control characters")
    if role not in ROLES:
        raise AccountError(f"role {role!r}: use contributor or operator")
    if len(password) < MIN_PASSWORD_LENGTH:
        raise AccountError(f"the password must have at least {MIN_PASSWORD_LENGTH} characters")
    if role == "contributor":
        contributor_id = normalize_name(contributor_id or name)
        if not valid_contributor_id(contributor_id):
            raise AccountError(f"contributor id {contributor_id!r}: {CONTRIBUTOR_ID_RULE}")
    elif contributor_id:
        raise AccountError("an operator account sees every contributor: --contributor is for contributor accounts")
    else:
        contributor_id = None
    if store.account(name) is not None:
        raise AccountError(f"account {name!r} already exists (remove it first to change it)")
    store.add_account(name, role, contributor_id, hash_password(password))
    return store.account(name)


@dataclass(frozen=True)
class SignedIn:
    account: Account
    csrf: str
    expires_at: float


class Sessions:
    COOKIE = "onett_session"

    def __init__(self, store: PortalStore, hours: float):
        self.store, self.seconds = store, int(hours * 3600)

    @staticmethod
    def _hash(token: str) -> str:
        return hashlib.sha256(token.encode()).hexdigest()

    def start(self, account: Account) -> tuple[str, SignedIn]:
        token, csrf = secrets.token_urlsafe(32), secrets.token_urlsafe(24)
        expires_at = time.time() + self.seconds
        self.store.add_session(self._hash(token), account.name, csrf, expires_at)
        return token, SignedIn(account, csrf, expires_at)

    def lookup(self, token: str | None) -> SignedIn | None:
        if not token or len(token) > 128:
            return None
        found = self.store.session(self._hash(token))
        return SignedIn(*found) if found else None

    def end(self, token: str | None) -> None:
        if token:
            self.store.remove_session(self._hash(token))


@dataclass(frozen=True)
class Throttle:
    free: int  # failures in the window before any delay
    cap: float  # the longest delay, seconds
    pending_is_failure: bool = True  # an attempt being checked counts as failed until its password proves right
    max_pending: int = 0  # without that: at most this many attempts checked at once

    def wait(self, failures: list[float], pending: list[float], now: float) -> float:
        """Seconds before the next attempt may be checked: 2^(n - free) after the latest of n attempts."""
        attempts = sorted(failures + pending) if self.pending_is_failure else failures
        if not self.pending_is_failure and len(pending) >= self.max_pending:
            return 1.0
        if len(attempts) < self.free:
            return 0.0
        return attempts[-1] + min(2.0 ** (len(attempts) - self.free), self.cap) - now


THROTTLES = {
    "account": Throttle(free=5, cap=60.0),  # slows guessing at one partner to about one a minute, never locks
    # An address guessing many accounts is stopped; many people behind one address (an office, a proxy) sign in at
    # once without waiting for each other's checks, up to a bound.
    "client": Throttle(free=10, cap=FAILURE_WINDOW, pending_is_failure=False, max_pending=64),
    "device": Throttle(free=5, cap=60.0),  # a known browser is throttled on its own
}


class TooManyAttempts(Exception):
    def __init__(self, seconds: float):
        self.seconds = max(1, math.ceil(seconds))
        self.minutes = max(1, math.ceil(seconds / 60))
        super().__init__(f"too many failed sign-ins; try again in {self.seconds} second(s)")


class SignIn:
    """Password check with the throttles above."""

    def __init__(self, store: PortalStore, window: float = FAILURE_WINDOW):
        self.store, self.window = store, window

    @staticmethod
    def device_hash(device: str) -> str:
        return hashlib.sha256(device.encode()).hexdigest()

    def check(self, name: str, password: str, client: str, device: str | None = None) -> Account | None:
        """The account on success, None on a wrong name or password; TooManyAttempts while throttled. `device`:
        the browser's device cookie, if it has one."""
        now = time.time()
        name = normalize_name(name)
        known = bool(device) and len(device) <= 128 and self.store.known_device(self.device_hash(device), name)
        scopes = [f"device:{self.device_hash(device)}"] if known else [f"account:{name}", f"client:{client}"]
        wait, attempt = self.store.begin_attempt(
            scopes, now, now - self.window,
            lambda scope, failures, pending: THROTTLES[scope.split(":")[0]].wait(failures, pending, now))
        if wait > 0:
            raise TooManyAttempts(wait)
        ok = False
        try:
            account = self.store.account(name) if name else None
            ok = verify_password(password, account.password_hash if account else _DUMMY_HASH) and account is not None
        finally:
            self.store.end_attempt(attempt, failed=not ok)
        if ok:
            self.store.clear_failures(f"account:{name}")
            return account
        return None

    def remember_device(self, account: Account) -> tuple[str, int]:
        """A new device cookie for the browser that just signed in, and its lifetime in seconds."""
        token, seconds = secrets.token_urlsafe(32), DEVICE_DAYS * 86400
        self.store.add_device(self.device_hash(token), account.name, time.time() + seconds)
        return token, seconds

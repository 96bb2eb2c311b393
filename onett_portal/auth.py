"""Accounts, passwords, sessions and the sign-in rate limit.

Passwords: scrypt (memory-hard, in the standard library). Sessions: a random token in an HttpOnly,
SameSite=Strict cookie; only its SHA-256 is stored, with an absolute expiry. Every POST also carries the
session's CSRF token. Sign-in: at most MAX_FAILURES failures per account and per client address in
FAILURE_WINDOW, then a clear "try again in N minutes"."""

from __future__ import annotations

import base64
import hashlib
import hmac
import math
import secrets
import time
import unicodedata
from dataclasses import dataclass

from onett_domain.uploads import valid_contributor_id
from onett_portal.store import Account, PortalStore

SCRYPT_N, SCRYPT_R, SCRYPT_P = 2**14, 8, 1  # 16 MiB of memory per hash
MIN_PASSWORD_LENGTH = 8
MAX_FAILURES = 5
FAILURE_WINDOW = 15 * 60  # seconds
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
        if not valid_contributor_id(contributor_id) or contributor_id.startswith("."):
            raise AccountError(f"contributor id {contributor_id!r} must not contain | , / \\ or control characters "
                               "nor start with a dot (it is the contributor's landing folder name)")
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


class TooManyAttempts(Exception):
    def __init__(self, minutes: int):
        super().__init__(f"too many failed sign-ins; try again in {minutes} minute(s)")
        self.minutes = minutes


class SignIn:
    """Password check with the rate limit, per account name and per client address."""

    def __init__(self, store: PortalStore, max_failures: int = MAX_FAILURES, window: float = FAILURE_WINDOW):
        self.store, self.max_failures, self.window = store, max_failures, window

    def _wait(self, scope: str, now: float) -> float:
        failures = self.store.failures_since(scope, now - self.window)
        if len(failures) < self.max_failures:
            return 0.0
        # Allowed again once enough of the failures in the window have aged out of it.
        return failures[len(failures) - self.max_failures] + self.window - now

    def check(self, name: str, password: str, client: str) -> Account | None:
        """The account on success, None on a wrong name or password; TooManyAttempts while locked."""
        now = time.time()
        name = normalize_name(name)
        scopes = [f"account:{name}", f"client:{client}"]
        wait = max(self._wait(s, now) for s in scopes)
        if wait > 0:
            raise TooManyAttempts(max(1, math.ceil(wait / 60)))
        account = self.store.account(name) if name else None
        ok = verify_password(password, account.password_hash if account else _DUMMY_HASH)
        if account is not None and ok:
            self.store.clear_failures(scopes[0])
            return account
        self.store.add_failure(scopes, now)
        return None

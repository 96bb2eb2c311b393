"""The portal on a real platform: the demo's uploads ingested and its ended months closed once per test
session (in a subprocess, like `make run`), then copied for each test so tests can change it freely."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
PUBLISHER = "한빛출판사"  # a demo contributor with uploads in two closed months
PASSWORDS = {"alice": "alice-password", "bob": "bob-password", "ops": "operator-password"}


def platform_env(home: Path, **extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("ONETT_")}
    env.update(DAGSTER_HOME=str(home), ONETT_SETTLE_SECONDS="0", ONETT_LOG_LEVEL="ERROR", **extra)
    return env


def onett_cli(home: Path, *args: str, check: bool = True, **kwargs) -> subprocess.CompletedProcess:
    result = subprocess.run([sys.executable, "-m", "onett_cli.main", *args], env=platform_env(home), cwd=ROOT,
                            capture_output=True, text=True, timeout=300, **kwargs)
    if check:
        assert result.returncode == 0, result.stdout + result.stderr
    return result


@pytest.fixture(scope="session")
def demo_home(tmp_path_factory) -> Path:
    home = tmp_path_factory.mktemp("portal-demo") / "dagster_home"
    home.mkdir()
    shutil.copy(ROOT / "dagster_home" / "dagster.yaml", home / "dagster.yaml")
    # One process for the three commands `make run` uses: Dagster is imported once.
    script = ("import sys; from onett_cli.main import main\n"
              "for args in (['demo'], ['ingest'], ['close', '--ended']):\n"
              "    code = main(args)\n"
              "    if code: sys.exit(code)\n")
    result = subprocess.run([sys.executable, "-c", script], env=platform_env(home), cwd=ROOT, capture_output=True,
                            text=True, timeout=600)
    assert result.returncode == 0, result.stdout + result.stderr
    return home


@pytest.fixture
def home(demo_home, tmp_path, monkeypatch) -> Path:
    """A private copy of the demo platform, set as this test's DAGSTER_HOME."""
    copy = tmp_path / "dagster_home"
    shutil.copytree(demo_home, copy, symlinks=True)
    for key in list(os.environ):
        if key.startswith("ONETT_"):
            monkeypatch.delenv(key)
    monkeypatch.setenv("DAGSTER_HOME", str(copy))
    monkeypatch.setenv("ONETT_SETTLE_SECONDS", "0")
    return copy


def add_accounts(home: Path) -> None:
    from onett_portal.auth import add_account
    from onett_portal.store import PortalStore

    store = PortalStore(home / "portal.sqlite")
    add_account(store, "alice", "contributor", PASSWORDS["alice"], PUBLISHER)
    add_account(store, "bob", "contributor", PASSWORDS["bob"], "bob-press")
    add_account(store, "ops", "operator", PASSWORDS["ops"])


class Browser:
    """A TestClient signed in as one account, carrying that session's CSRF token."""

    def __init__(self, app, lang: str = "ko"):
        from starlette.testclient import TestClient

        self.client = TestClient(app, follow_redirects=False, headers={"accept-language": lang})
        self.csrf = ""

    def login(self, name: str, password: str | None = None):
        page = self.client.get("/login")
        token = re.search(r'name="csrf" value="([^"]+)"', page.text).group(1)
        response = self.client.post("/login", data={"name": name, "password": password or PASSWORDS[name],
                                                    "csrf": token, "next": "/"})
        if response.status_code == 303:
            landing = self.client.get("/uploads" if name != "ops" else "/operator")
            found = re.search(r'name="csrf" value="([^"]+)"', landing.text)
            self.csrf = found.group(1) if found else ""
        return response

    def get(self, path: str, **kwargs):
        return self.client.get(path, **kwargs)

    def post(self, path: str, **kwargs):
        return self.client.post(path, **kwargs)

    def upload(self, files: list[tuple[str, bytes]], path: str = "/upload", json: bool = True, csrf: str | None = None):
        headers = {"accept": "application/json"} if json else {}
        return self.client.post(path, data={"csrf": self.csrf if csrf is None else csrf},
                                files=[("files", (name, data)) for name, data in files], headers=headers)


@pytest.fixture
def portal(home):
    """The app on the test's platform with accounts alice (the publisher), bob (new) and ops (operator)."""
    from onett_portal.app import create_app

    add_accounts(home)
    app = create_app()
    yield app


@pytest.fixture
def browser(portal):
    def make(name: str | None = None, lang: str = "ko") -> Browser:
        b = Browser(portal, lang)
        if name:
            assert b.login(name).status_code == 303
        return b

    return make


def fresh_documents(count: int, seed: str = "") -> bytes:
    """JSONL of `count` real Korean petitions (shared corpus) that are neither in the demo nor near each
    other, so every one of them earns tokens; the test is skipped where the corpora are absent."""
    import gzip
    import json

    from conftest import distinct_texts

    demo = set()
    for path in (ROOT / "onett_cli" / "demo" / "data").glob("*.jsonl.gz"):
        with gzip.open(path, "rt", encoding="utf-8") as handle:
            demo.update(json.loads(line)["text"] for line in handle)
    texts = [t for t in distinct_texts("ko_petitions", "petitions.jsonl.gz", count + 12, limit=800) if t not in demo]
    chosen = texts[-count:] if seed == "late" else texts[:count]
    return "".join(json.dumps({"id": f"{seed}{i}", "text": t}, ensure_ascii=False) + "\n"
                   for i, t in enumerate(chosen)).encode()

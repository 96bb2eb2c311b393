"""The portal under load: signed-in contributors browsing and others uploading at once, while `onett ingest` writes
the warehouse, against a real `onett portal` on loopback, on a throwaway platform built from the demo.

    .venv/bin/python bench/portal_load.py [--browsers 100] [--uploaders 20] [--seconds 60]
        [--upload-kb 256] [--corpora ../shared/corpora] [--json bench/results/portal_load.json]

Every user signs in first (timed as `login`: 120 scrypt checks at once); pages and uploads are timed from then on.
Prints per kind of request: count, p50, p90, p99 and max latency; 5xx and other failures; upload throughput
(MB/s and files/s) and how many ingests ran meanwhile. Target: no 5xx, p99 <= 1 s for pages. The load generator
runs in this process (threads) on the same cores as the server and the ingest: figures are for the whole machine.
"""

from __future__ import annotations

import argparse
import gzip
import http.cookiejar
import json
import os
import random
import re
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import urllib.error
import urllib.parse
import urllib.request
import uuid
from collections import defaultdict
from datetime import datetime, timezone
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PASSWORD = "load-test-password"
PAGES = ("/", "/uploads", "/uploads/files", "/api/statement", "/disputes", "/payee")


def onett(home: Path, *args: str, **kwargs) -> subprocess.CompletedProcess:
    env = {k: v for k, v in os.environ.items() if not k.startswith("ONETT_")}
    env.update(DAGSTER_HOME=str(home), ONETT_SETTLE_SECONDS="0", ONETT_LOG_LEVEL="ERROR")
    return subprocess.run([sys.executable, "-m", "onett_cli.main", *args], env=env, cwd=ROOT, capture_output=True,
                          text=True, **kwargs)


def texts(corpora: Path, limit: int = 4000) -> list[str]:
    """Real Korean text for the uploads (petitions), or generated sentences without the corpora."""
    path = corpora / "ko_petitions" / "petitions.jsonl.gz"
    if not path.exists():
        return [f"부하 시험 문서 {n}번입니다. 내용은 서로 다릅니다: {uuid.uuid4()}." * 40 for n in range(500)]
    with gzip.open(path, "rt", encoding="utf-8") as handle:
        return [json.loads(line)["text"] for _, line in zip(range(limit), handle)]


class User:
    """One signed-in browser: a cookie jar, the session's CSRF token, and the time of every request."""

    def __init__(self, base: str, name: str, record):
        self.base, self.name, self.record = base, name, record
        self.opener = urllib.request.build_opener(urllib.request.HTTPCookieProcessor(http.cookiejar.CookieJar()))
        self.csrf = ""

    def request(self, kind: str, path: str, data: bytes | None = None, headers: dict | None = None) -> str:
        started = time.perf_counter()
        status, body = 0, ""
        try:
            with self.opener.open(urllib.request.Request(self.base + path, data=data, headers=headers or {}),
                                  timeout=60) as response:
                status, body = response.status, response.read().decode("utf-8", "replace")
        except urllib.error.HTTPError as exc:
            status = exc.code
        except OSError as exc:
            status = f"error {exc.__class__.__name__}"
        if status == 200 and 'class="card busy"' in body:
            status = "busy-page"  # answered at once, but without the numbers: counted apart from the pages that had them
        self.record(kind, time.perf_counter() - started, status)
        return body

    def login(self) -> None:
        page = self.request("login", "/login")
        token = re.search(r'name="csrf" value="([^"]+)"', page).group(1)
        form = urllib.parse.urlencode({"name": self.name, "password": PASSWORD, "csrf": token, "next": "/uploads"})
        landing = self.request("login", "/login", form.encode(), {"content-type": "application/x-www-form-urlencoded"})
        self.csrf = re.search(r'name="csrf" value="([^"]+)"', landing).group(1)

    def upload(self, name: str, content: bytes) -> None:
        boundary = uuid.uuid4().hex
        parts = [(f'--{boundary}\r\nContent-Disposition: form-data; name="{k}"\r\n\r\n{v}\r\n').encode()
                 for k, v in (("csrf", self.csrf), ("usage", "pretraining-only"), ("rights_attested", "on"))]
        parts.append((f'--{boundary}\r\nContent-Disposition: form-data; name="files"; filename="{name}"\r\n'
                      "Content-Type: text/plain\r\n\r\n").encode() + content + b"\r\n")
        body = b"".join(parts) + f"--{boundary}--\r\n".encode()
        self.request("upload", "/upload", body, {"content-type": f"multipart/form-data; boundary={boundary}",
                                                  "accept": "application/json"})


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))] if ordered else 0.0


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--browsers", type=int, default=100)
    parser.add_argument("--uploaders", type=int, default=20)
    parser.add_argument("--seconds", type=float, default=60)
    parser.add_argument("--upload-kb", type=int, default=256)
    parser.add_argument("--corpora", type=Path, default=ROOT.parent / "shared" / "corpora")
    parser.add_argument("--no-ingest", action="store_true", help="no ingest meanwhile: the pages' own cost")
    parser.add_argument("--json", type=Path)
    args = parser.parse_args()

    work = Path(tempfile.mkdtemp(prefix="onett-load-"))
    home = work / "dagster_home"
    home.mkdir()
    shutil.copy(ROOT / "dagster_home" / "dagster.yaml", home / "dagster.yaml")
    for step in (("demo",), ("ingest",), ("close", "--ended")):
        result = onett(home, *step)
        assert result.returncode == 0, result.stdout + result.stderr
    sys.path.insert(0, str(ROOT))
    os.environ["DAGSTER_HOME"] = str(home)
    from onett_portal.auth import add_account
    from onett_portal.store import PortalStore

    store = PortalStore(home / "portal.sqlite")
    demo = sorted(p.name for p in (home / "landing").iterdir() if p.is_dir())
    browsers = [f"reader{n}" for n in range(args.browsers)]
    uploaders = [f"writer{n}" for n in range(args.uploaders)]
    for n, name in enumerate(browsers):
        add_account(store, name, "contributor", PASSWORD, demo[n % len(demo)])
    for name in uploaders:
        add_account(store, name, "contributor", PASSWORD, f"load-{name}")

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    env = {k: v for k, v in os.environ.items() if not k.startswith("ONETT_")}
    env.update(DAGSTER_HOME=str(home))
    server = subprocess.Popen([sys.executable, "-m", "onett_cli.main", "portal", "--port", str(port)], env=env,
                              cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.STDOUT)
    base = f"http://127.0.0.1:{port}"
    for _ in range(300):
        try:
            urllib.request.urlopen(base + "/healthz", timeout=2)
            break
        except OSError:
            time.sleep(0.2)

    times: dict[str, list[float]] = defaultdict(list)
    failures: dict[str, int] = defaultdict(int)
    lock = threading.Lock()

    signed_in = threading.Barrier(args.browsers + args.uploaders + 1)

    def record(kind: str, seconds: float, status) -> None:
        if kind != "login" and not measuring.is_set():
            return  # pages are timed once everyone has signed in (the sign-in storm is timed as `login`)
        with lock:
            times[kind].append(seconds)
            if not (isinstance(status, int) and status < 400):
                failures[f"{kind} {status}"] += 1

    corpus = texts(args.corpora)
    uploaded = {"bytes": 0, "files": 0}
    stop = threading.Event()
    measuring = threading.Event()

    def browse(name: str) -> None:
        user = User(base, name, record)
        user.login()
        signed_in.wait()
        rng = random.Random(name)
        while not stop.is_set():
            user.request("page " + (path := rng.choice(PAGES)), path)
            time.sleep(rng.uniform(0.5, 2.0))  # a person reads the page before the next click

    def write(name: str) -> None:
        user = User(base, name, record)
        user.login()
        signed_in.wait()
        rng = random.Random(name)
        n = 0
        while not stop.is_set():
            chosen, size = [], 0
            while size < args.upload_kb << 10:
                chosen.append(rng.choice(corpus))
                size += len(chosen[-1].encode())
            content = "\n\n".join(chosen).encode()
            user.upload(f"load-{n}.txt", content)
            with lock:
                uploaded["bytes"] += len(content)
                uploaded["files"] += 1
            n += 1
            time.sleep(rng.uniform(1.0, 3.0))

    ingests = []

    def ingest_loop() -> None:
        while not stop.is_set():
            started = time.perf_counter()
            result = onett(home, "ingest")
            ingests.append((time.perf_counter() - started, result.returncode))

    threads = [threading.Thread(target=browse, args=(n,)) for n in browsers]
    threads += [threading.Thread(target=write, args=(n,)) for n in uploaders]
    if not args.no_ingest:
        threads.append(threading.Thread(target=ingest_loop))
    for t in threads:
        t.start()
        time.sleep(0.01)
    signed_in.wait()  # every user has signed in: the measured window starts
    measuring.set()
    started = time.perf_counter()
    time.sleep(args.seconds)
    stop.set()
    elapsed = time.perf_counter() - started  # the measured window; a running ingest is waited for, not counted
    for t in threads:
        t.join(timeout=300)
    server.terminate()
    server.wait(timeout=30)

    rows = {}
    for kind in sorted(times):
        values = times[kind]
        rows[kind] = {"n": len(values), "p50_ms": round(1000 * statistics.median(values), 1),
                      "p90_ms": round(1000 * percentile(values, 0.9), 1),
                      "p99_ms": round(1000 * percentile(values, 0.99), 1), "max_ms": round(1000 * max(values), 1)}
    pages = [v for k, vs in times.items() if k.startswith("page ") for v in vs]
    summary = {
        "date": datetime.now(timezone.utc).isoformat(timespec="seconds"), "cores": os.cpu_count(),
        "browsers": args.browsers, "uploaders": args.uploaders, "ingest_meanwhile": not args.no_ingest, "seconds": round(elapsed, 1),
        "requests": sum(len(v) for v in times.values()), "failures": dict(failures),
        # 503 with Retry-After is the API's answer while a run holds the warehouse and nothing is cached yet (pages
        # answer 200 with a "busy" page then); every other 5xx is an error.
        "busy_503": sum(n for k, n in failures.items() if k.split()[-1] == "503"),
        "busy_pages": sum(n for k, n in failures.items() if k.split()[-1] == "busy-page"),
        "server_errors": sum(n for k, n in failures.items() if k.split()[-1].startswith("5")
                             and k.split()[-1] != "503"),
        "pages_p50_ms": round(1000 * statistics.median(pages), 1) if pages else None,
        "pages_p99_ms": round(1000 * percentile(pages, 0.99), 1) if pages else None,
        "upload_mb_per_s": round(uploaded["bytes"] / elapsed / 1e6, 3),
        "uploads_per_s": round(uploaded["files"] / elapsed, 2),
        "ingests": len(ingests), "ingests_failed": sum(1 for _, code in ingests if code),
        "ingest_median_s": round(statistics.median(s for s, _ in ingests), 1) if ingests else None,
        "by_kind": rows,
    }
    print(f"{'request':<22}{'n':>7}{'p50 ms':>9}{'p90 ms':>9}{'p99 ms':>9}{'max ms':>9}")
    for kind, r in rows.items():
        print(f"{kind:<22}{r['n']:>7}{r['p50_ms']:>9}{r['p90_ms']:>9}{r['p99_ms']:>9}{r['max_ms']:>9}")
    print(json.dumps({k: v for k, v in summary.items() if k != "by_kind"}, ensure_ascii=False, indent=1))
    if args.json:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps(summary, ensure_ascii=False, indent=1) + "\n")
    shutil.rmtree(work, ignore_errors=True)
    return 0 if summary["server_errors"] == 0 else 1


if __name__ == "__main__":
    sys.exit(main())

"""A throwaway PostgreSQL server for the scale-out tests: Dagster's instance as deploy/postgres/dagster.yaml
keeps it. Skips cleanly where no PostgreSQL server binaries are installed (`make test` installs Debian's
`postgresql` when it can)."""

from __future__ import annotations

import glob
import os
import pwd
import re
import shutil
import socket
import subprocess
import tempfile
from pathlib import Path

import pytest


def _postgres_bin() -> Path | None:
    """initdb, pg_ctl and postgres: Debian keeps them in /usr/lib/postgresql/<version>/bin (newest wins);
    elsewhere they are on PATH. ONETT_PG_BIN overrides."""
    candidates = [os.environ.get("ONETT_PG_BIN", "")]
    candidates += sorted(glob.glob("/usr/lib/postgresql/*/bin"),
                         key=lambda p: [int(n) for n in re.findall(r"\d+", p)], reverse=True)
    on_path = shutil.which("pg_ctl")
    candidates += [str(Path(on_path).parent)] if on_path else []
    for folder in filter(None, candidates):
        if all((Path(folder) / tool).is_file() for tool in ("initdb", "pg_ctl", "postgres")):
            return Path(folder)
    return None


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class PostgresServer:
    """initdb + pg_ctl in a temporary folder; loopback only, unix socket in the same folder. PostgreSQL refuses
    to run as root, so as root the server runs as the `postgres` user Debian's package creates."""

    user, password, database = "onett", "onett-test-password", "dagster"

    def __init__(self, bin_dir: Path):
        self.bin = bin_dir
        self.as_user = None
        if os.geteuid() == 0:
            try:
                self.as_user = pwd.getpwnam("postgres")
            except KeyError:
                pytest.skip("running as root and there is no `postgres` user to run the PostgreSQL server as")
        self.dir = Path(tempfile.mkdtemp(prefix="onett-pg-"))
        if self.as_user:
            os.chown(self.dir, self.as_user.pw_uid, self.as_user.pw_gid)
        self.data = self.dir / "data"
        self.port = free_port()
        self.started = False

    def _run(self, *args: str, timeout: float = 60) -> None:
        user = {"user": self.as_user.pw_uid, "group": self.as_user.pw_gid, "extra_groups": []} if self.as_user else {}
        result = subprocess.run([str(a) for a in args], cwd=self.dir, capture_output=True, text=True,
                                timeout=timeout, **user)
        if result.returncode != 0:
            raise RuntimeError(f"{Path(args[0]).name} failed:\n{result.stdout}\n{result.stderr}")

    def start(self) -> None:
        password_file = self.dir / "password"
        password_file.write_text(self.password + "\n")
        if self.as_user:
            os.chown(password_file, self.as_user.pw_uid, self.as_user.pw_gid)
        self._run(self.bin / "initdb", "-D", self.data, "-U", self.user, f"--pwfile={password_file}",
                  "--auth=scram-sha-256", "--encoding=UTF8", "--locale=C.UTF-8", "--no-sync")
        password_file.unlink()
        # Durability settings off: a throwaway test cluster, never a deployment's.
        options = (f"-p {self.port} -k {self.dir} -c listen_addresses=127.0.0.1 -c fsync=off "
                   "-c synchronous_commit=off -c full_page_writes=off -c max_connections=200")
        self._run(self.bin / "pg_ctl", "-D", self.data, "-l", self.dir / "server.log", "-w", "-t", "60",
                  "-o", options, "start", timeout=90)
        self.started = True
        import psycopg2

        conn = psycopg2.connect(host="127.0.0.1", port=self.port, user=self.user, password=self.password,
                                dbname="postgres")
        try:
            conn.autocommit = True
            conn.cursor().execute(f"CREATE DATABASE {self.database}")
        finally:
            conn.close()

    def stop(self) -> None:
        try:
            if self.started:
                self._run(self.bin / "pg_ctl", "-D", self.data, "-m", "immediate", "-w", "stop", timeout=60)
        finally:
            shutil.rmtree(self.dir, ignore_errors=True)

    def env(self) -> dict[str, str]:
        return {"DAGSTER_PG_HOST": "127.0.0.1", "DAGSTER_PG_PORT": str(self.port), "DAGSTER_PG_USER": self.user,
                "DAGSTER_PG_PASSWORD": self.password, "DAGSTER_PG_DB": self.database}


@pytest.fixture
def postgres(request) -> PostgresServer:
    bin_dir = _postgres_bin()
    if bin_dir is None:
        pytest.skip("no PostgreSQL server binaries (initdb, pg_ctl, postgres): `apt-get install postgresql`, "
                    "or point ONETT_PG_BIN at their folder")
    try:
        import psycopg2  # noqa: F401  (installed with dagster-postgres)
    except ImportError:
        pytest.skip("dagster-postgres (psycopg2) is not installed: `make install`")
    server = PostgresServer(bin_dir)
    request.addfinalizer(server.stop)
    server.start()
    return server



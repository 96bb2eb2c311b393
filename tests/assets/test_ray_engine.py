"""Preprocessing and credit on a real multi-node Ray cluster started here (a head node and four worker nodes, each
its own raylet and worker processes), with Dagster's instance in a real PostgreSQL server, compared table by table
with the embedded platform on the same uploads; a worker node killed while one of its preprocessing jobs is writing,
another while the near-duplicate candidate search runs its shard jobs, a third while the first-come decision runs
its shard jobs; an engine that does not answer; two ingests of the same partitions racing across the nodes.

Skips where Ray is not installed or cannot start, where no PostgreSQL server binaries are installed, or where the
shared corpora are absent."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import threading
from pathlib import Path

import pytest

import conftest
from assets.scale_out_uploads import PETITIONS, TABLES, fill, snapshot
from conftest import ROOT, corpus, distinct_texts, seoul
from postgres_server import free_port, postgres  # noqa: F401  (the fixture)

ray = pytest.importorskip("ray", reason="Ray is not installed: `make install` installs the `ray` extra")

DEPLOY_CONFIG = ROOT / "deploy" / "postgres" / "dagster.yaml"
JOB_CHARS = 64 << 10  # small jobs: the bulk upload becomes about twenty of them, spread over both nodes


@pytest.fixture
def cluster(monkeypatch):
    """A head node with no CPU for jobs and four worker nodes of one CPU each (three of them are lost in a test)."""
    from ray.cluster_utils import Cluster

    monkeypatch.setenv("RAY_USAGE_STATS_ENABLED", "0")
    try:
        cluster = Cluster(initialize_head=True, head_node_args={"num_cpus": 0, "include_dashboard": False})
        nodes = [cluster.add_node(num_cpus=1) for _ in range(4)]
        cluster.wait_for_nodes()
    except Exception as exc:  # noqa: BLE001  (whatever keeps Ray from starting here is the reason to skip)
        pytest.skip(f"a Ray cluster cannot start on this machine: {exc}")
    yield cluster, nodes
    ray.shutdown()
    cluster.shutdown()


def _uploads(bed: conftest.Testbed, texts: list[str], bulk: list[dict]) -> None:
    """The scale-out uploads (every kind of credit decision) and one bulk archive of real petitions."""
    fill(bed, texts)
    bed.drop("dana", "archive.jsonl", bulk, seoul(2026, 9, 20, 9))


def _bulk() -> list[dict]:
    return [{"id": f"d{i}", "text": d["text"]} for i, d in enumerate(corpus(*PETITIONS, limit=1400)[400:])]


def _scaled_home(tmp_path: Path, postgres, monkeypatch, address: str) -> conftest.Testbed:
    home = tmp_path / "scaled_home"
    home.mkdir()
    shutil.copy(DEPLOY_CONFIG, home / "dagster.yaml")
    monkeypatch.setenv("DAGSTER_HOME", str(home))
    monkeypatch.setenv("ONETT_RAY_ADDRESS", address)
    for key, value in postgres.env().items():
        monkeypatch.setenv(key, value)
    return conftest.Testbed(home)


class NodeKiller(threading.Thread):
    """Kills a worker node (its raylet and every worker under it) as soon as one of its workers is writing a part
    of the bulk upload: that job is lost mid-write and must run again elsewhere."""

    def __init__(self, cluster, node, folder: Path):
        super().__init__(daemon=True)
        self.cluster, self.node, self.folder = cluster, node, folder
        self.raylet = node.all_processes["raylet"][0].process.pid
        self.killed_during: str | None = None
        self.stop, self.done = threading.Event(), threading.Event()

    def run(self) -> None:
        while not self.stop.wait(0.02):
            for partial in self.folder.glob(".*.tmp/*.partial"):
                pid = int(partial.name.split(".")[-3])
                if _parent(pid) == self.raylet:
                    self.killed_during = partial.name
                    self.cluster.remove_node(self.node, allow_graceful=False)
                    self.done.set()
                    return


class StepKiller(threading.Thread):
    """After the previous loss, kills another worker node once a step's shard jobs are running on the cluster: the
    first shard's output (`pattern`, under `folder`) is written, the others are in flight."""

    def __init__(self, cluster, node, folder: Path, pattern: str, after: threading.Event):
        super().__init__(daemon=True)
        self.cluster, self.node, self.folder, self.pattern, self.after = cluster, node, folder, pattern, after
        self.killed_during: str | None = None
        self.stop, self.done = threading.Event(), threading.Event()

    def run(self) -> None:
        while not self.stop.wait(0.005):
            if not self.after.is_set():
                continue
            for found in self.folder.glob(self.pattern):
                self.killed_during = found.name
                self.cluster.remove_node(self.node, allow_graceful=False)
                self.done.set()
                return


def _parent(pid: int) -> int | None:
    try:
        status = Path(f"/proc/{pid}/status").read_text()
    except OSError:
        return None
    return next((int(line.split()[1]) for line in status.splitlines() if line.startswith("PPid:")), None)


def test_ray_cluster_preprocesses_like_the_embedded_platform_with_a_node_lost(onett, postgres, cluster, tmp_path,
                                                                               monkeypatch):
    head, nodes = cluster
    monkeypatch.setattr("onett_assets.assets.ingest.JOB_CHARS", JOB_CHARS)
    monkeypatch.setattr("onett_domain.credit.key_shards.JOB_TEXTS", 4)  # decisions of several jobs each
    texts, bulk = distinct_texts(*PETITIONS, 15), _bulk()

    # The embedded platform: local worker processes, SQLite instance.
    _uploads(onett, texts, bulk)
    onett.ok("ingest")
    onett.ok("close", "2026-09")
    onett.ok("close", "2026-10")
    expected = snapshot(onett)

    # The same uploads with Dagster's instance in PostgreSQL, every preprocessing job and every shard job of the
    # candidate search and of the decision a task of the cluster; a worker node is killed while one of its jobs
    # writes, another while the candidate search runs, a third while the decision runs.
    bed = _scaled_home(tmp_path, postgres, monkeypatch, head.address)
    _uploads(bed, texts, bulk)
    killer = NodeKiller(head, nodes[0], bed.home / "data" / "filtered" / "dana")
    dedup_killer = StepKiller(head, nodes[1], bed.home / "onett.near-index", ".candidates-*/candidates-*",
                              killer.done)
    decision_killer = StepKiller(head, nodes[2], bed.home / "onett.credit-keys", ".decision-*/gathered-*",
                                 dedup_killer.done)
    killers = (killer, dedup_killer, decision_killer)
    for thread in killers:
        thread.start()
    try:
        out = bed.ok("ingest")
    finally:
        for thread in killers:
            thread.stop.set()
            thread.join()
    assert killer.killed_during, f"the node was never seen writing a part:\n{out}"
    assert dedup_killer.killed_during, f"the candidate search was never seen running on the cluster:\n{out}"
    assert decision_killer.killed_during, f"the first-come decision was never seen running on the cluster:\n{out}"
    bed.ok("close", "2026-09")
    bed.ok("close", "2026-10")

    session = bed.session()
    assert type(session.instance.run_storage).__name__ == "PostgresRunStorage"
    from dagster import AssetKey

    event = session.instance.get_latest_materialization_event(AssetKey("filtered"))
    metadata = event.asset_materialization.metadata
    by_node = {}
    for record in session.instance.fetch_materializations(AssetKey("filtered"), limit=100).records:
        jobs = record.asset_materialization.metadata["jobs by engine node"].value
        assert record.asset_materialization.metadata["engine"].value == f"ray at {head.address}"
        for node, count in jobs.items():
            by_node[node] = by_node.get(node, 0) + count
    assert metadata["engine"].value.startswith("ray at ")
    # Worker nodes ran every job, the head none; the lost node was running one (killed_during: whether it had finished
    # another before depends on how fast its first part was written); the lost job ran again (the tables below).
    assert by_node and set(by_node) <= {n.node_id for n in nodes}, by_node
    assert not list((bed.home / "data" / "filtered").rglob("*.partial")), "a lost job's torn part was published"
    # The candidate search of every submission ran as shard jobs on the cluster's worker nodes, never the head.
    searched = {}
    for record in session.instance.fetch_materializations(AssetKey("deduped"), limit=100).records:
        assert record.asset_materialization.metadata["engine"].value == f"ray at {head.address}"
        for node, count in record.asset_materialization.metadata["jobs by engine node"].value.items():
            searched[node] = searched.get(node, 0) + count
    assert searched and head.head_node.node_id not in searched, searched
    assert not list((bed.home / "onett.near-index").glob(".candidates-*")), "a search's work files were left"
    # First-come credit was decided by shard jobs over the content-hash shards of the documents' keys.
    assert bed.query("SELECT count(*) FROM credit_key_versions") == bed.query(
        "SELECT count(DISTINCT (contributor_id, period)) FROM documents "
        "WHERE status IN ('accepted', 'duplicate', 'near_duplicate')")
    assert not list((bed.home / "onett.credit-keys").glob(".decision-*")), "a decision's work files were left"

    got = snapshot(bed)
    assert {s for (s,) in bed.query("SELECT DISTINCT status FROM documents")} >= {
        "accepted", "duplicate", "near_duplicate", "reference"}
    for table in TABLES:
        assert got[table] == expected[table], f"{table} differs between the embedded platform and the Ray cluster"


def test_an_engine_that_does_not_answer_stops_the_ingest_before_anything_is_written(onett, monkeypatch):
    onett.drop("alice", "essays.jsonl", [{"id": "a", "text": "한국어 문장입니다. " * 50}], seoul(2026, 9, 3, 9))
    monkeypatch.setenv("ONETT_RAY_ADDRESS", f"127.0.0.1:{free_port()}")
    code, out = onett.cli("ingest")
    assert code == 1
    assert "ONETT_RAY_ADDRESS" in out and "does not answer" in out, out
    assert onett.query("SELECT count(*) FROM uploads") == [(0,)]
    assert not (onett.home / "data" / "raw_submission").exists()


def test_two_ingests_racing_on_the_same_partitions_across_nodes_agree(onett, postgres, cluster, tmp_path,
                                                                        monkeypatch):
    """Two `onett ingest` processes on one instance at the same time, both sending the same partitions' jobs to
    the cluster: both succeed and the warehouse is what one embedded ingest makes."""
    head, _ = cluster
    texts = distinct_texts(*PETITIONS, 15)
    fill(onett, texts)
    onett.ok("ingest")
    expected = snapshot(onett)

    bed = _scaled_home(tmp_path, postgres, monkeypatch, head.address)
    fill(bed, texts)
    command = [sys.executable, "-c", "import sys; from onett_cli.main import main; sys.exit(main(['ingest']))"]
    racers = [subprocess.Popen(command, cwd=ROOT, env=dict(os.environ), stdout=subprocess.PIPE,
                               stderr=subprocess.STDOUT, text=True) for _ in range(2)]
    outputs = [r.communicate(timeout=600)[0] for r in racers]
    assert [r.returncode for r in racers] == [0, 0], "\n".join(outputs)
    assert all("4 (contributor, month) submission(s) to process" in o for o in outputs), "they did not race"
    got = snapshot(bed)
    for table in TABLES:
        assert got[table] == expected[table], f"{table} differs after two racing ingests"

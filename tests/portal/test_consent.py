"""Consent in the portal: uploads wait for the published agreement to be accepted, each upload carries the terms
chosen for it in a sidecar the pipeline reads, contributors (and operators for them) erase files, and operators
publish the agreement, read its acceptances and download the releases."""

from __future__ import annotations

import json
import re
import subprocess
import sys
from datetime import date, timedelta
from pathlib import Path

import polars as pl

from onett_domain.terms import SIDECAR_SUFFIX, parse_sidecar
from portal.conftest import PUBLISHER, ROOT, fresh_documents, onett_cli, platform_env

FINISH_ERASURES = ("import sys; from onett_cli.session import Session\n"
                   "sys.exit(0 if Session().run('finish_erasures').success else 1)\n")

AGREEMENT = "제1조 기여자는 올린 글의 권리를 가집니다.\n<b>굵게</b> & 그대로 보여야 합니다."
AGENT = "onett-test-agent/1.0"


def _settings():
    from onett_resources import load_settings

    return load_settings()


def _registry():
    from onett_resources import ConsentRegistry

    return ConsentRegistry(path=str(_settings().consent))


def _terms(**overrides) -> dict:
    return {"usage": "pretraining-and-finetuning", "evaluation_allowed": "1",
            "expires": (date.today() + timedelta(days=400)).isoformat(), "rights_attested": "1", **overrides}


def _upload(who, files: list[tuple[str, bytes]], fields: dict | None = None):
    """A browser form post: the fields (terms) before the files, as the page sends them."""
    return who.client.post("/upload", data={"csrf": who.csrf, **(fields or {})},
                           files=[("files", (name, data)) for name, data in files],
                           headers={"accept": "application/json"})


def _publish(browser, version: str = "2026-1", text: str = AGREEMENT):
    ops = browser("ops")
    response = ops.post("/operator/agreement", data={"csrf": ops.csrf, "version": version, "text": text})
    assert response.status_code == 303, response.text
    return ops


def test_uploads_wait_for_the_agreement_then_carry_their_terms(home, browser):
    ops = _publish(browser)
    page = ops.get("/operator/agreement?published=2026-1")
    assert page.status_code == 200 and "버전 2026-1을 게시했습니다" in page.text
    assert "&lt;b&gt;굵게&lt;/b&gt; &amp; 그대로" in page.text and "<b>굵게</b>" not in page.text  # escaped
    again = ops.post("/operator/agreement", data={"csrf": ops.csrf, "version": "2026-1", "text": "다른 글"})
    assert again.status_code == 400 and "already published" in again.text
    assert ops.post("/operator/agreement", data={"csrf": "forged", "version": "x", "text": "y"}).status_code == 404

    bob = browser("bob")
    bob.client.headers["user-agent"] = AGENT
    folder = home / "landing" / "bob-press"
    for path in ["/", "/uploads"]:
        assert 'href="/agreement"' in bob.get(path).text, path
    refused = _upload(bob, [("essay.txt", ("밥의 글입니다. " * 30).encode())], _terms())
    assert refused.status_code == 403 and "2026-1" in refused.json()["message"]
    assert "저장되지 않았습니다" in refused.json()["message"]
    assert not folder.exists() or list(folder.iterdir()) == []

    form = bob.get("/agreement")
    assert form.status_code == 200 and "&lt;b&gt;굵게&lt;/b&gt;" in form.text and "2026-1" in form.text
    assert 'name="rights_attested"' in form.text and 'value="pretraining-and-finetuning"' in form.text
    accept = {"csrf": bob.csrf, "version": "2026-1", "usage": "pretraining-and-finetuning",
              "evaluation_allowed": "1"}
    missing = bob.post("/agreement", data=accept)
    assert missing.status_code == 400 and "권리를 가지고 있다는 확인이 필요합니다" in missing.text
    assert 'id="agreement-form"' in missing.text and _registry().acceptance_log() == []
    assert bob.post("/agreement", data={**accept, "rights_attested": "1", "csrf": "forged"}).status_code == 404
    stale = bob.post("/agreement", data={**accept, "rights_attested": "1", "version": "2025-9"})
    assert stale.status_code == 409 and _registry().acceptance_log() == []

    accepted = bob.post("/agreement", data={**accept, "rights_attested": "1"})
    assert accepted.status_code == 303 and accepted.headers["location"] == "/uploads?agreed=2026-1"
    (contributor, version, by, _, address, agent, usage, evaluation), = _registry().acceptance_log()
    assert (contributor, version, by, address, agent, usage, evaluation) == (
        "bob-press", "2026-1", "bob", "testclient", AGENT, "pretraining-and-finetuning", 1)
    uploads = bob.get("/uploads?agreed=2026-1").text
    assert 'id="agreement-notice"' not in uploads and "기여자 동의서 버전 2026-1을 수락했습니다" in uploads
    assert '<option value="pretraining-and-finetuning" selected>' in uploads  # the default chosen on accepting
    log = ops.get("/operator/agreement").text
    assert "bob-press" in log and "testclient" in log and AGENT in log and "사전 학습과 미세 조정" in log

    # Terms are checked before anything is saved.
    text = ("밥의 글입니다. " * 30).encode()
    for fields, expected in [({"rights_attested": ""}, "권리를 가지고 있다는 확인"),
                             ({"usage": "redistribution"}, "unknown usage"),
                             ({"expires": "2001-01-01"}, "이미 지났습니다"),
                             ({"expires": "next year"}, "YYYY-MM-DD")]:
        response = _upload(bob, [("essay.txt", text)], _terms(**fields))
        assert response.status_code == 400 and expected in response.json()["message"], fields
        assert not folder.exists() or list(folder.iterdir()) == [], fields
    assert _upload(bob, [("essay.txt", text)]).status_code == 400  # no terms at all, with an agreement in force

    ok = _upload(bob, [("essay.txt", text), ("notes.md", ("메모 " * 40).encode())], _terms())
    assert ok.status_code == 200, ok.text
    assert sorted(p.name for p in folder.iterdir()) == sorted(
        ["essay.txt", "essay.txt" + SIDECAR_SUFFIX, "notes.md", "notes.md" + SIDECAR_SUFFIX])
    sidecar = folder / ("essay.txt" + SIDECAR_SUFFIX)
    assert parse_sidecar(sidecar.read_text(encoding="utf-8"), sidecar.name) == {
        "usage": "pretraining-and-finetuning", "evaluation_allowed": True,
        "expires": date.fromisoformat(_terms()["expires"])}
    # A second upload of the same name gets a new name and terms of its own; the first keeps its terms.
    second = _upload(bob, [("essay.txt", text)], _terms(usage="pretraining-only", evaluation_allowed="", expires=""))
    assert second.json()["files"][0]["saved_as"] == "essay (2).txt"
    assert parse_sidecar((folder / ("essay (2).txt" + SIDECAR_SUFFIX)).read_text(), "x") == {
        "usage": "pretraining-only", "evaluation_allowed": False}
    assert json.loads(sidecar.read_text())["usage"] == "pretraining-and-finetuning"
    from onett_resources import LandingZone

    zone = LandingZone(path=str(home / "landing"))
    listed = {u.file: u for u in zone.snapshot("bob-press")}
    assert sorted(listed) == ["essay (2).txt", "essay.txt", "notes.md"] and all(u.terms_stamp for u in listed.values())


def test_without_an_agreement_uploads_go_on_as_before(home, browser):
    bob = browser("bob")
    assert 'id="agreement-notice"' not in bob.get("/uploads").text
    assert bob.get("/agreement").status_code == 404
    assert bob.upload([("plain.txt", ("밥의 글. " * 30).encode())]).status_code == 200
    assert sorted(p.name for p in (home / "landing" / "bob-press").iterdir()) == ["plain.txt"]  # no terms given


def test_erasure_only_of_ones_own_files(home, browser):
    registry = _registry()
    theirs = sorted(p.name for p in (home / "landing" / PUBLISHER).iterdir())
    assert theirs
    bob = browser("bob")
    assert bob.upload([("mine.txt", ("밥의 글입니다. " * 30).encode())]).status_code == 200
    mine = home / "landing" / "bob-press" / "mine.txt"

    for name in theirs:
        response = bob.post("/files/erase", data={"csrf": bob.csrf, "file": name, "reason": "내 것이 아님",
                                                  "contributor": PUBLISHER, "contributor_id": PUBLISHER})
        assert response.status_code == 400 and "refused" in response.text, name
    assert sorted(p.name for p in (home / "landing" / PUBLISHER).iterdir()) == theirs
    assert registry.erasures() == []

    no_reason = bob.post("/files/erase", data={"csrf": bob.csrf, "file": "mine.txt", "reason": " "})
    assert no_reason.status_code == 400 and "파기 이유를 적어 주세요" in no_reason.text and mine.exists()
    assert bob.post("/files/erase", data={"csrf": "forged", "file": "mine.txt", "reason": "x"}).status_code == 404
    assert mine.exists()

    page = bob.get("/uploads").text
    assert 'action="/files/erase"' in page and 'name="file" value="mine.txt"' in page
    erased = bob.post("/files/erase", data={"csrf": bob.csrf, "file": "mine.txt", "reason": "잘못 올림"})
    assert erased.status_code == 200 and "mine.txt: 파기 요청을 받았습니다" in erased.text
    assert not mine.exists()
    (request,) = registry.erasures("bob-press")
    assert (request.file, request.requested_by, request.reason) == ("mine.txt", "bob", "잘못 올림")
    assert registry.erasures(PUBLISHER) == []


def test_operator_erases_for_a_contributor(home, browser):
    bob = browser("bob")
    assert bob.upload([("draft.txt", ("밥의 초안. " * 30).encode())]).status_code == 200
    ops = browser("ops")
    view = ops.get("/operator/contributors/bob-press").text
    assert 'action="/operator/contributors/bob-press/files/erase"' in view and 'value="draft.txt"' in view
    # Contributors cannot use the operator's form, even for their own files.
    assert bob.post("/operator/contributors/bob-press/files/erase",
                    data={"csrf": bob.csrf, "file": "draft.txt", "reason": "x"}).status_code == 404
    assert ops.post("/operator/contributors/nobody/files/erase",
                    data={"csrf": ops.csrf, "file": "draft.txt", "reason": "x"}).status_code == 404
    done = ops.post("/operator/contributors/bob-press/files/erase",
                    data={"csrf": ops.csrf, "file": "draft.txt", "reason": "기여자 요청 (전화)"})
    assert done.status_code == 200 and "draft.txt: 파기 요청을 받았습니다" in done.text
    assert not (home / "landing" / "bob-press" / "draft.txt").exists()
    assert [r.requested_by for r in _registry().erasures("bob-press")] == ["ops"]


def test_held_and_erased_files_have_their_own_labels(home, browser):
    """Through real runs: a file dropped in the folder without an accepted agreement waits (with the reason); once
    accepted it is read, and after an erasure from the page it shows as erased, in both languages."""
    _publish(browser, "v1", "동의서 본문")
    folder = home / "landing" / "bob-press"
    folder.mkdir(parents=True)
    (folder / "sftp.txt").write_bytes(fresh_documents(3))
    onett_cli(home, "ingest")
    bob = browser("bob")
    table = bob.get("/uploads/files").text
    assert 'data-state="held"' in table and "보류: 동의·약관 필요" in table and "agreement version v1" in table
    assert 'data-pending="0"' in table  # nothing to poll for: it waits on the contributor
    assert "on hold: consent or terms" in bob.get("/uploads/files?lang=en").text
    bob.client.cookies.delete("lang")

    accepted = bob.post("/agreement", data={"csrf": bob.csrf, "version": "v1", "usage": "pretraining-only",
                                            "rights_attested": "1"})
    assert accepted.status_code == 303
    onett_cli(home, "ingest")
    assert 'data-state="held"' not in bob.get("/uploads/files").text
    erased = bob.post("/files/erase", data={"csrf": bob.csrf, "file": "sftp.txt", "reason": "철회"})
    assert erased.status_code == 200 and not (folder / "sftp.txt").exists()
    onett_cli(home, "ingest")
    finish = subprocess.run([sys.executable, "-c", FINISH_ERASURES], env=platform_env(home), cwd=ROOT,
                            capture_output=True, text=True, timeout=300)
    assert finish.returncode == 0, finish.stdout + finish.stderr
    table = bob.get("/uploads/files").text
    assert 'data-state="erased"' in table and "파기됨" in table
    assert 'name="file" value="sftp.txt"' not in table  # nothing left to erase
    assert ">erased<" in bob.get("/uploads/files?lang=en").text


def test_korean_pages_show_the_new_labels(browser):
    bob = browser("bob")
    uploads = bob.get("/uploads").text
    for label in ["이 파일들의 이용 조건", "이용 범위", "사전 학습에만", "평가(벤치마크)에 사용해도 됩니다",
                  "이용 종료일 (선택)", "올리는 글에 대한 권리를 제가 가지고 있습니다"]:
        assert label in uploads, label
    assert re.search(r'<input type="checkbox" name="rights_attested"[^>]*required', uploads)
    ops = browser("ops")
    home = ops.get("/operator").text
    assert 'href="/operator/releases"' in home and 'href="/operator/agreement"' in home
    assert "학습 데이터 릴리스" in ops.get("/operator/releases").text
    agreement = ops.get("/operator/agreement").text
    assert "게시된 동의서가 없습니다" in agreement and "수락 기록" in agreement
    english = browser("ops", lang="en")
    assert "Training data releases" in english.get("/operator/releases").text


# ---- releases ----------------------------------------------------------------------------------------------

def _fake_release(root: Path, release_id: str = "2099-01-r1") -> Path:
    folder = root / release_id
    folder.mkdir(parents=True)
    shard = folder / "shard-00000.parquet"
    pl.DataFrame({"document_id": ["d1", "d2"], "text": ["첫 문서", "둘째 문서"], "tokens": [3, 4]}).write_parquet(shard)
    (root / "outside.txt").write_text("not a release file")
    (folder / "notes.txt").write_text("in the folder, but not listed")
    (folder / "shard-00001.parquet").symlink_to(root / "outside.txt")
    manifest = {
        "release_id": release_id, "period": "2099-01", "created_at": "2099-02-01T03:05:00+00:00",
        "documents": 2, "tokens": 7, "bytes": shard.stat().st_size,
        "shards": [{"file": shard.name, "sha256": "0" * 64, "rows": 2, "tokens": 7, "bytes": shard.stat().st_size},
                   {"file": "shard-00001.parquet", "sha256": "0" * 64, "rows": 0, "tokens": 0, "bytes": 0},
                   {"file": "../outside.txt", "sha256": "0" * 64, "rows": 0, "tokens": 0, "bytes": 0}],
        "contributors": [{"contributor_id": "bob-press", "documents": 2, "tokens": 7}],
        "removed": {"since": "2098-12-r1", "withdrawn": ["a", "b"], "erased": ["c"], "expired": [],
                    "no_longer_credited": []},
    }
    (folder / "manifest.json").write_text(json.dumps(manifest, ensure_ascii=False), encoding="utf-8")
    (folder / "croissant.json").write_text('{"@type": "sc:Dataset"}', encoding="utf-8")
    (folder / "README.md").write_text("# 2026-10 release\n", encoding="utf-8")
    hidden = root / ".cut-123-abc"
    hidden.mkdir()
    (hidden / "manifest.json").write_text(json.dumps({**manifest, "release_id": ".cut-123-abc"}))
    return folder


def test_operator_releases_page_and_downloads(browser):
    folder = _fake_release(_settings().release_dir)
    base = "/operator/releases/2099-01-r1/"
    alice = browser("alice")
    assert alice.get("/operator/releases").status_code == 404
    assert alice.get(base + "manifest.json").status_code == 404

    ops = browser("ops")
    page = ops.get("/operator/releases")
    assert page.status_code == 200 and "2099-01-r1" in page.text and "2099년 1월" in page.text
    assert "철회 2" in page.text and "파기 1" in page.text and "2098-12-r1 이후" in page.text
    for name in ["manifest.json", "croissant.json", "README.md", "shard-00000.parquet"]:
        assert f'href="{base}{name}"' in page.text, name
        response = ops.get(base + name)
        assert response.status_code == 200 and response.content == (folder / name).read_bytes(), name
        assert "attachment" in response.headers["content-disposition"]
    assert pl.read_parquet(__import__("io").BytesIO(ops.get(base + "shard-00000.parquet").content)).height == 2

    # The releases the demo cut are there too, shards identical to the files.
    from onett_resources import ReleaseStore

    store = ReleaseStore(base_dir=str(_settings().release_dir))
    demo = [m for m in store.manifests() if m["release_id"] != "2099-01-r1"]
    assert demo, "the demo's closed months have releases"
    for m in demo:
        shard = m["shards"][0]["file"]
        assert f'href="/operator/releases/{m["release_id"]}/{shard}"' in page.text
        got = ops.get(f"/operator/releases/{m['release_id']}/{shard}").content
        assert got == (store.root / m["release_id"] / shard).read_bytes()

    for path in [base + "notes.txt", base + "shard-00001.parquet", base + "..%2Foutside.txt",
                 base + "%2E%2E%2Foutside.txt", "/operator/releases/2099-01-r1/../outside.txt",
                 "/operator/releases/..%2F2099-01-r1/manifest.json", "/operator/releases/nope/manifest.json",
                 "/operator/releases/.cut-123-abc/manifest.json", "/operator/releases/%2e%2e/outside.txt"]:
        response = ops.get(path)
        assert response.status_code == 404 and "not a release file" not in response.text, path


def test_terms_are_named_before_the_upload_and_never_shared(tmp_path, monkeypatch):
    from onett_portal import uploads

    named = []
    real = uploads._name_new

    def watch(src, target):
        named.append(target.name)
        return real(src, target)

    monkeypatch.setattr(uploads, "_name_new", watch)
    (tmp_path / "a.txt").write_bytes(b"an older upload, without terms")
    (tmp_path / "a (2).txt.terms.json").write_bytes(b"terms left by someone else")
    tmp = tmp_path / ".upload-x.part"
    tmp.write_bytes(b"the new text")
    assert uploads.place(tmp, tmp_path, "a.txt", b'{"rights_attested": true}\n') == "a (3).txt"
    assert named == ["a (3).txt.terms.json", "a (3).txt"]  # terms first; names present (as NFC) never tried
    assert (tmp_path / "a (2).txt.terms.json").read_bytes() == b"terms left by someone else"
    assert (tmp_path / "a (3).txt.terms.json").read_bytes() == b'{"rights_attested": true}\n'
    assert sorted(p.name for p in tmp_path.iterdir()) == [
        "a (2).txt.terms.json", "a (3).txt", "a (3).txt.terms.json", "a.txt"]  # no temporary file left

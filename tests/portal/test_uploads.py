"""Uploads land whole and under a fresh name in the contributor's own folder, within the limits; then each
file shows what became of it, through a real `onett ingest`."""

from __future__ import annotations

import json

from onett_portal.uploads import safe_name, split_suffix
from onett_resources.landing_zone import LandingZone

PNG = b"\x89PNG\r\n\x1a\n" + bytes(range(256)) * 8


def _docs(n: int, seed: str) -> bytes:
    lines = [{"id": f"{seed}-{i}", "text": f"{seed} 문서 {i}: " + "우리 동네 도서관은 주말마다 어린이 독서 모임을 연다. " * 6
              + f"참여한 아이들은 {i}권의 책을 읽고 서로 이야기를 나누었다."} for i in range(n)]
    return "".join(json.dumps(d, ensure_ascii=False) + "\n" for d in lines).encode()


def test_file_names():
    assert safe_name("../../etc/passwd.txt") == "passwd.txt"
    assert safe_name("C:\\Users\\me\\보고서.md") == "보고서.md"
    assert safe_name(".hidden.jsonl") == "hidden.jsonl"
    assert safe_name("a\x00b\nc.txt") == "abc.txt"
    assert safe_name("...") == ""
    assert len(safe_name("가" * 300 + ".jsonl.gz").encode()) <= 200 and safe_name("가" * 300 + ".jsonl.gz").endswith(".jsonl.gz")
    assert split_suffix("data.jsonl.gz") == ("data", ".jsonl.gz")


def test_several_files_at_once_never_overwriting(home, browser):
    bob = browser("bob")
    first = _docs(3, "첫")
    response = bob.upload([("docs.jsonl", first), ("../notes.txt", ("메모 " * 40).encode())])
    assert response.status_code == 200, response.text
    assert [f["saved_as"] for f in response.json()["files"]] == ["docs.jsonl", "notes.txt"]
    folder = home / "landing" / "bob-press"
    second = _docs(2, "둘")
    again = bob.upload([("docs.jsonl", second)]).json()["files"][0]
    assert again["saved_as"] == "docs (2).jsonl" and "docs (2).jsonl" in again["message"]
    assert (folder / "docs.jsonl").read_bytes() == first and (folder / "docs (2).jsonl").read_bytes() == second
    assert sorted(p.name for p in folder.iterdir()) == ["docs (2).jsonl", "docs.jsonl", "notes.txt"]  # no .part left
    assert [f.file for f in LandingZone(path=str(home / "landing")).snapshot("bob-press")] == [
        "docs (2).jsonl", "docs.jsonl", "notes.txt"]


def test_limits_and_refusals(home, browser, monkeypatch):
    monkeypatch.setenv("ONETT_PORTAL_MAX_UPLOAD_MB", "1")
    from onett_portal.app import create_app
    from portal.conftest import Browser

    bob = Browser(create_app())
    assert bob.login("bob").status_code == 303
    folder = home / "landing" / "bob-press"

    too_big = bob.upload([("big.txt", b"a" * ((1 << 20) + 10))])
    assert too_big.status_code == 413
    assert "big.txt: 파일이 너무 큽니다 (파일당 최대 1 MB)" in too_big.json()["message"]
    wrong_type = bob.upload([("photo.png", PNG)])
    assert wrong_type.status_code == 400 and "photo.png: 허용되지 않는 파일 형식입니다" in wrong_type.json()["message"]
    assert ".jsonl" in wrong_type.json()["message"]
    empty = bob.upload([("empty.txt", b"")])
    assert empty.status_code == 400 and "빈 파일" in empty.json()["message"]
    forged = bob.upload([("a.txt", b"hello world " * 10)], csrf="forged")
    assert forged.status_code == 403
    assert not folder.exists() or list(folder.iterdir()) == []  # nothing written, not even a temporary file

    # The form without JavaScript gets a page with the message.
    page = bob.upload([("photo.png", PNG)], json=False)
    assert page.status_code == 400 and "허용되지 않는 파일 형식" in page.text and "<html" in page.text

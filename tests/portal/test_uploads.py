"""Uploads land whole and under a fresh name in the contributor's own folder, within the limits; then each
file shows what became of it, through a real `onett ingest`."""

from __future__ import annotations

import json

import pytest

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



def test_a_full_disk_is_the_platforms_fault_and_keeps_nothing_half_written(home, browser, monkeypatch, caplog):
    """The landing disk full while a file streams in: before, the contributor was told their form could not be read
    (400). Now a 503 says the fault is the platform's and that files not confirmed were not kept; no temporary file
    is left, and the operators' log says what failed."""
    import builtins
    import os

    import onett_portal.uploads as uploads

    if not os.path.exists("/dev/full"):
        pytest.skip("needs /dev/full (every write to it finds no space)")
    bob = browser("bob")
    folder = home / "landing" / "bob-press"
    real_open, opened = builtins.open, []

    def second_file_on_a_full_disk(path, mode="r", *args, **kwargs):
        opened.append(path)
        return real_open("/dev/full", "wb", buffering=0) if len(opened) == 2 else real_open(path, mode, *args, **kwargs)

    monkeypatch.setattr(uploads, "open", second_file_on_a_full_disk, raising=False)
    first, second = _docs(3, "첫"), _docs(400, "둘")
    response = bob.upload([("first.jsonl", first), ("second.jsonl", second)])
    assert response.status_code == 503, response.text
    body = response.json()
    assert "플랫폼 쪽 저장 공간 문제로 업로드를 저장하지 못했습니다" in body["message"]
    saved = [f["saved_as"] for f in body["files"]]  # the first file, if it was placed before the second began
    assert saved in ([], ["first.jsonl"]) and sorted(p.name for p in folder.iterdir()) == saved
    assert all((folder / name).read_bytes() == first for name in saved)
    assert any("could not be stored" in r.getMessage() and "No space left" in r.getMessage() for r in caplog.records)

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

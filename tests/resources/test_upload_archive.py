"""The upload archive keeps every upload sealed with a key of its contributor: nothing readable at rest, every
alteration detected, one upload or one contributor erased (their key destroyed: every copy, backups included)."""

from __future__ import annotations

import base64
import hashlib
import json
import multiprocessing
import os
import shutil
import stat
from pathlib import Path

import pytest

from conftest import corpus
from onett_resources.key_store import KeyStore, KeyStoreError
from onett_resources.sealed_files import CHUNK_BYTES, HEADER_BYTES, SEALED_CHUNK_BYTES, SealedFileError, seal, unseal
from onett_resources.upload_archive import ArchiveError, UploadArchive

MB = 1 << 20


@pytest.fixture(scope="module")
def korean_file(tmp_path_factory) -> Path:
    """4.5 to 5 MiB of real Korean prose (petitions): five chunks, the last one partial."""
    texts, size = [], 0
    for doc in corpus("ko_petitions", "petitions.jsonl.gz"):
        texts.append(doc["text"])
        size += len(doc["text"].encode())
        if size > 4.5 * MB:
            break
    path = tmp_path_factory.mktemp("upload") / "petitions.txt"
    path.write_text("\n".join(texts), encoding="utf-8")
    assert 4.5 * MB < path.stat().st_size < 5 * MB
    return path


@pytest.fixture
def archive(tmp_path) -> UploadArchive:
    return UploadArchive(path=str(tmp_path / "storage" / "uploads"), key_file=str(tmp_path / "keys" / "keys.json"))


def sha(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def upload(tmp_path: Path, name: str, content: str) -> tuple[Path, str]:
    path = tmp_path / "landing" / name
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(content, encoding="utf-8")
    return path, sha(path)


def files_under(folder: Path) -> list[Path]:
    return sorted(p for p in folder.rglob("*") if p.is_file())


def test_a_multi_mb_korean_upload_reads_back_identical(archive, korean_file):
    digest = sha(korean_file)
    assert archive.keep("김민지", korean_file, digest)
    target = archive.location("김민지", digest)
    assert target == Path(archive.path, "%EA%B9%80%EB%AF%BC%EC%A7%80", digest[:2], f"{digest}.sealed")
    assert stat.S_IMODE(target.stat().st_mode) == 0o444
    restored = b"".join(archive.read("김민지", digest))
    assert restored == korean_file.read_bytes()
    assert hashlib.sha256(restored).hexdigest() == digest


def test_keeping_the_same_upload_again_leaves_the_copy_as_it_is(archive, korean_file):
    digest = sha(korean_file)
    assert archive.keep("alice", korean_file, digest)
    before = archive.location("alice", digest).stat()
    assert archive.keep("alice", korean_file, digest)
    after = archive.location("alice", digest).stat()
    assert (after.st_ino, after.st_mtime_ns) == (before.st_ino, before.st_mtime_ns)


def test_no_plaintext_is_left_in_the_archive(archive, korean_file):
    text = korean_file.read_text(encoding="utf-8")
    sentence = next(s for s in text.split(". ") if len(s) > 60 and text.count(s) == 1 and "\n" not in s)
    needle = sentence.encode()
    assert needle in korean_file.read_bytes()
    digest = sha(korean_file)
    assert archive.keep("alice", korean_file, digest) and archive.keep("bob", korean_file, digest)
    kept = files_under(Path(archive.path))
    assert len(kept) == 2
    assert not [p for p in kept if needle in p.read_bytes()]


def test_each_contributor_has_their_own_key(archive, korean_file):
    digest = sha(korean_file)
    archive.keep("alice", korean_file, digest)
    archive.keep("bob", korean_file, digest)
    alice, bob = archive.key_store.key_for("alice"), archive.key_store.key_for("bob")
    assert alice != bob
    with pytest.raises(SealedFileError, match="chunk 0 fails authentication"):
        next(unseal(archive.location("alice", digest), bob))


@pytest.mark.parametrize("size", [0, 1, CHUNK_BYTES - 1, CHUNK_BYTES, CHUNK_BYTES + 1, 2 * CHUNK_BYTES])
def test_sealed_file_sizes_at_chunk_boundaries(tmp_path, size):
    source, target, key = tmp_path / "plain", tmp_path / "sealed", os.urandom(32)
    source.write_bytes(os.urandom(size))
    assert seal(source, target, key) == sha(source)
    chunks = max(1, -(-size // CHUNK_BYTES))  # a full last chunk is the final one; an empty file has one
    assert target.stat().st_size == HEADER_BYTES + size + 16 * chunks
    assert b"".join(unseal(target, key)) == source.read_bytes()


def flip(data: bytearray) -> None:
    data[HEADER_BYTES + SEALED_CHUNK_BYTES + 1234] ^= 0x01


def cut_last_chunk(data: bytearray) -> None:
    del data[HEADER_BYTES + (len(data) - HEADER_BYTES) // SEALED_CHUNK_BYTES * SEALED_CHUNK_BYTES:]


def cut_mid_chunk(data: bytearray) -> None:
    del data[-100:]


def swap_first_chunks(data: bytearray) -> None:
    first = slice(HEADER_BYTES, HEADER_BYTES + SEALED_CHUNK_BYTES)
    second = slice(HEADER_BYTES + SEALED_CHUNK_BYTES, HEADER_BYTES + 2 * SEALED_CHUNK_BYTES)
    data[first], data[second] = data[second], data[first]


def append(data: bytearray) -> None:
    data += data[HEADER_BYTES:HEADER_BYTES + SEALED_CHUNK_BYTES]


def change_nonce_prefix(data: bytearray) -> None:
    data[HEADER_BYTES - 1] ^= 0x80


@pytest.mark.parametrize("damage, message, intact_chunks", [
    (flip, "chunk 1 fails authentication", 1),
    (cut_last_chunk, "truncated: chunk 3 is intact but the chunks after it are missing", 3),
    (cut_mid_chunk, "chunk 4 fails authentication", 4),
    (swap_first_chunks, "chunk 0 fails authentication", 0),
    (append, "chunk 4 fails authentication", 4),
    (change_nonce_prefix, "chunk 0 fails authentication", 0),
])
def test_altered_sealed_files_are_refused(tmp_path, korean_file, damage, message, intact_chunks):
    """Only chunks authenticated in their place are ever yielded; the first bad one stops the read."""
    target, key = tmp_path / "upload.sealed", os.urandom(32)
    seal(korean_file, target, key)
    data = bytearray(target.read_bytes())
    damage(data)
    target.write_bytes(bytes(data))
    yielded = []
    with pytest.raises(SealedFileError, match=f"upload.sealed: {message}"):
        for chunk in unseal(target, key):
            yielded.append(chunk)
    assert len(yielded) == intact_chunks
    assert b"".join(yielded) == korean_file.read_bytes()[:intact_chunks * CHUNK_BYTES]


def test_bytes_appended_after_a_full_final_chunk_are_refused(tmp_path):
    source, target, key = tmp_path / "plain", tmp_path / "upload.sealed", os.urandom(32)
    source.write_bytes(os.urandom(2 * CHUNK_BYTES))
    seal(source, target, key)
    with open(target, "ab") as handle:
        handle.write(b"\0" * 100)
    with pytest.raises(SealedFileError, match="upload.sealed: bytes were appended after the final chunk 1"):
        b"".join(unseal(target, key))


def test_a_file_that_is_not_sealed_is_refused(tmp_path, korean_file):
    with pytest.raises(SealedFileError, match="petitions.txt: not a sealed file"):
        next(unseal(korean_file, os.urandom(32)))


def test_an_upload_changed_while_kept_is_not_archived(archive, tmp_path):
    path, digest = upload(tmp_path, "a.txt", "대한민국은 민주공화국이다.\n" * 1000)
    with open(path, "a", encoding="utf-8") as handle:
        handle.write("덧붙인 줄\n")
    assert not archive.keep("alice", path, digest)
    assert not archive.location("alice", digest).exists()
    assert files_under(Path(archive.path)) == []


def test_erase_removes_one_copy(archive, tmp_path):
    path, digest = upload(tmp_path, "a.txt", "지워 주세요. " * 500)
    other, other_digest = upload(tmp_path, "b.txt", "남겨 두세요. " * 500)
    for contributor in ("alice", "bob"):
        assert archive.keep(contributor, path, digest)
    assert archive.keep("alice", other, other_digest)
    assert archive.erase("alice", digest)
    assert not archive.location("alice", digest).exists()
    with pytest.raises(ArchiveError, match="not in the archive"):
        archive.read("alice", digest)
    assert b"".join(archive.read("bob", digest)) == path.read_bytes()
    assert b"".join(archive.read("alice", other_digest)) == other.read_bytes()
    assert not archive.erase("alice", digest)


def test_erase_also_removes_a_legacy_plaintext_copy(archive, tmp_path):
    path, digest = upload(tmp_path, "a.txt", "예전 방식으로 보관된 글. " * 100)
    legacy = archive.legacy_location(digest)
    legacy.parent.mkdir(parents=True)
    shutil.copyfile(path, legacy)
    assert archive.erase("alice", digest)
    assert not legacy.exists()


def test_erasing_a_contributor_shreds_every_copy_backups_included(archive, tmp_path, korean_file):
    small, small_digest = upload(tmp_path, "a.txt", "탈퇴하는 기여자의 글. " * 500)
    big_digest = sha(korean_file)
    for contributor, path, digest in [("alice", small, small_digest), ("alice", korean_file, big_digest),
                                      ("bob", korean_file, big_digest)]:
        assert archive.keep(contributor, path, digest)
    backup = tmp_path / "backup"
    shutil.copytree(archive.path, backup)
    backup_copy = backup / archive.location("alice", big_digest).relative_to(archive.path)
    old_key = archive.key_store.key_for("alice", create=False)
    assert b"".join(unseal(backup_copy, old_key)) == korean_file.read_bytes()

    assert archive.erase_contributor("alice") == 2
    assert "alice" not in json.loads(Path(archive.key_file).read_text())["keys"]
    assert not archive.key_store.has("alice") and archive.key_store.has("bob")
    assert not archive.folder("alice").exists()
    with pytest.raises(ArchiveError):
        archive.read("alice", big_digest)
    new_key = archive.key_store.key_for("alice")  # should they come back, they get a new key
    assert new_key != old_key
    with pytest.raises(SealedFileError):
        b"".join(unseal(backup_copy, new_key))
    assert b"".join(archive.read("bob", big_digest)) == korean_file.read_bytes()
    assert archive.erase_contributor("alice") == 0


def test_a_destroyed_key_makes_a_remaining_copy_unreadable(archive, tmp_path):
    path, digest = upload(tmp_path, "a.txt", "열쇠가 없으면 읽을 수 없다. " * 100)
    assert archive.keep("alice", path, digest)
    assert archive.key_store.destroy("alice") and not archive.key_store.destroy("alice")
    with pytest.raises(ArchiveError, match="key is destroyed"):
        archive.read("alice", digest)


def test_a_copy_left_unreadable_by_a_destroyed_key_is_sealed_anew(archive, tmp_path):
    path, digest = upload(tmp_path, "a.txt", "다시 올린 글. " * 100)
    assert archive.keep("alice", path, digest)
    archive.key_store.destroy("alice")
    assert archive.keep("alice", path, digest)
    assert b"".join(archive.read("alice", digest)) == path.read_bytes()


def test_erasing_a_contributor_named_like_a_legacy_shard_keeps_the_legacy_files(archive, tmp_path):
    """Contributor "ab" and the legacy shard of hashes "ab..." share a folder name: only their own copies go."""
    path, digest = upload(tmp_path, "a.txt", "기여자 ab의 글")
    assert archive.keep("ab", path, digest)
    legacy_digest = "ab" + hashlib.sha256(b"other").hexdigest()[2:]
    legacy = archive.legacy_location(legacy_digest)
    legacy.write_bytes(b"another contributor's upload")
    assert legacy.parent == archive.folder("ab")
    assert archive.erase_contributor("ab") == 1
    assert legacy.read_bytes() == b"another contributor's upload"
    assert not archive.location("ab", digest).exists()


def test_key_file_and_folder_are_private_whatever_the_umask(tmp_path):
    previous = os.umask(0)
    try:
        store = KeyStore(tmp_path / "secrets" / "keys.json")
        key = store.key_for("alice")
        assert len(key) == 32 and store.key_for("alice") == key
        assert store.key_for("bob", create=False) is None and not store.has("bob")
        assert stat.S_IMODE((tmp_path / "secrets").stat().st_mode) == 0o700
        assert stat.S_IMODE(store.path.stat().st_mode) == 0o600
        assert stat.S_IMODE(store.lock_path.stat().st_mode) == 0o600
        store.key_for("bob")
        store.destroy("alice")
        assert stat.S_IMODE(store.path.stat().st_mode) == 0o600
    finally:
        os.umask(previous)
    data = json.loads(store.path.read_text())
    assert data["version"] == 1 and list(data["keys"]) == ["bob"]
    assert len(base64.b64decode(data["keys"]["bob"])) == 32
    assert [p.name for p in (tmp_path / "secrets").iterdir() if p.name.endswith(".tmp")] == []


def _create_keys(key_file: str, contributors: list[str], barrier, results) -> None:
    store = KeyStore(key_file)
    barrier.wait()
    results.put({c: base64.b64encode(store.key_for(c)).decode() for c in contributors})


def test_processes_creating_keys_at_once_lose_none(tmp_path):
    """Every process asks for the shared contributors (in its own order) and for some of its own: each contributor
    ends with one key, the one every process was given, and no process's new key is lost."""
    processes, shared = 6, [f"shared-{i}" for i in range(15)]
    key_file = str(tmp_path / "keys" / "keys.json")
    context = multiprocessing.get_context("fork")
    barrier, results = context.Barrier(processes), context.Queue()
    wanted = [shared[n::2] + [f"own-{n}-{i}" for i in range(10)] + shared[::-1] for n in range(processes)]
    children = [context.Process(target=_create_keys, args=(key_file, w, barrier, results)) for w in wanted]
    for child in children:
        child.start()
    given = [results.get(timeout=60) for _ in children]
    for child in children:
        child.join(timeout=60)
        assert child.exitcode == 0
    stored = json.loads(Path(key_file).read_text())["keys"]
    assert len(stored) == len(shared) + processes * 10
    for keys in given:
        assert all(stored[c] == k for c, k in keys.items())
    assert len(set(stored.values())) == len(stored)


def test_legacy_plaintext_copies_are_sealed_then_removed(archive, tmp_path):
    first, first_digest = upload(tmp_path, "a.txt", "예전에 평문으로 보관된 글. " * 300)
    second, second_digest = upload(tmp_path, "b.txt", "또 다른 예전 글. " * 300)
    for path, digest in [(first, first_digest), (second, second_digest)]:
        legacy = archive.legacy_location(digest)
        legacy.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(path, legacy)
        os.chmod(legacy, 0o444)
    unknown = hashlib.sha256(b"never archived").hexdigest()
    pairs = [("alice", first_digest), ("bob", first_digest), ("bob", second_digest), ("carol", unknown)]

    assert archive.migrate_legacy(pairs) == 3
    assert not archive.legacy_location(first_digest).exists() and not archive.legacy_location(second_digest).exists()
    assert b"".join(archive.read("alice", first_digest)) == first.read_bytes()
    assert b"".join(archive.read("bob", first_digest)) == first.read_bytes()
    assert b"".join(archive.read("bob", second_digest)) == second.read_bytes()
    assert not [p for p in files_under(Path(archive.path)) if b"\xec\x98\x88\xec\xa0\x84" in p.read_bytes()]  # 예전
    assert archive.migrate_legacy(pairs) == 0


def test_a_legacy_copy_that_does_not_match_its_hash_is_left_in_place(archive, tmp_path):
    digest = hashlib.sha256(b"what was uploaded").hexdigest()
    legacy = archive.legacy_location(digest)
    legacy.parent.mkdir(parents=True)
    legacy.write_bytes(b"what is on disk now")
    with pytest.raises(ArchiveError, match="do not hash to its name"):
        archive.migrate_legacy([("alice", digest)])
    assert legacy.read_bytes() == b"what is on disk now"
    assert not archive.location("alice", digest).exists()


@pytest.mark.parametrize("content, detail", [
    ('{"version": 1, "keys": {"alice": ', "not JSON"),
    ('{"version": 2, "keys": {}}', "expected"),
    ('{"version": 1, "keys": {"alice": "c2hvcnQ="}}', "the key of 'alice' has 5 bytes"),
    ('{"version": 1, "keys": {"alice": "not base64!"}}', "the key of 'alice' is not base64"),
    ("", "not JSON"),
])
def test_a_corrupt_key_file_is_an_error_and_never_replaced(archive, tmp_path, content, detail):
    key_file = Path(archive.key_file)
    key_file.parent.mkdir(parents=True)
    key_file.write_text(content)
    path, digest = upload(tmp_path, "a.txt", "글")
    with pytest.raises(KeyStoreError, match=f"{key_file}: the upload key file is corrupt \\({detail}"):
        archive.keep("alice", path, digest)
    for attempt in (lambda s: s.key_for("bob"), lambda s: s.destroy("alice"), lambda s: s.has("alice")):
        with pytest.raises(KeyStoreError, match="restore it from its backup"):
            attempt(archive.key_store)
    assert key_file.read_text() == content
    assert files_under(Path(archive.path)) == []

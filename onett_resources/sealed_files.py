"""Files sealed with authenticated encryption (AES-256-GCM), streamed in chunks of 1 MiB so that an upload of
several GB is sealed and read back in bounded memory.

Layout: a header (`MAGIC` and a random 8-byte nonce prefix), then each chunk's ciphertext and tag. A chunk's nonce
is the prefix and its 4-byte big-endian index; its associated data is the header, its index and whether it is the
final chunk. So a flipped bit, chunks swapped or taken from another file, a file cut short at a chunk boundary and
bytes appended after the end are all detected, and a file always ends with a (possibly empty) final chunk."""

from __future__ import annotations

import hashlib
import os
from pathlib import Path
from typing import Iterator

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

MAGIC = b"ONETTSEALED1"
PREFIX_BYTES = 8
HEADER_BYTES = len(MAGIC) + PREFIX_BYTES
CHUNK_BYTES = 1 << 20
TAG_BYTES = 16
SEALED_CHUNK_BYTES = CHUNK_BYTES + TAG_BYTES
MAX_CHUNKS = 1 << 32


class SealedFileError(RuntimeError):
    """A sealed file is not one, or fails authentication; the message names the file and the chunk."""


def seal(source: Path, target: Path, key: bytes) -> str:
    """Write `source` sealed with `key` to `target` (fsynced); the sha256 hex of the plaintext read, which is read
    once, so a caller comparing it to the hash it expects knows exactly which bytes were sealed."""
    aead = _aead(key)
    prefix = os.urandom(PREFIX_BYTES)
    header = MAGIC + prefix
    digest = hashlib.sha256()
    with open(source, "rb") as plain, open(target, "wb") as sealed:
        sealed.write(header)
        chunk, index = plain.read(CHUNK_BYTES), 0
        while True:
            if index >= MAX_CHUNKS:
                raise SealedFileError(f"{source}: too large to seal ({MAX_CHUNKS} chunks of {CHUNK_BYTES} bytes)")
            digest.update(chunk)
            following = plain.read(CHUNK_BYTES)
            final = not following
            sealed.write(aead.encrypt(_nonce(prefix, index), chunk, _associated(header, index, final)))
            if final:
                break
            chunk, index = following, index + 1
        sealed.flush()
        os.fsync(sealed.fileno())
    return digest.hexdigest()


def unseal(path: Path, key: bytes) -> Iterator[bytes]:
    """The plaintext of a sealed file, chunk by chunk, each authenticated before it is yielded; SealedFileError as
    soon as a chunk fails, or at the end if the file does not end with its final chunk."""
    aead = _aead(key)
    with open(path, "rb") as sealed:
        header = sealed.read(HEADER_BYTES)
        if len(header) < HEADER_BYTES or not header.startswith(MAGIC):
            raise SealedFileError(f"{path}: not a sealed file (it does not start with {MAGIC.decode()})")
        prefix = header[len(MAGIC):]
        block, index = sealed.read(SEALED_CHUNK_BYTES), 0
        while True:
            following = sealed.read(SEALED_CHUNK_BYTES)
            final = not following
            if len(block) < TAG_BYTES:
                raise SealedFileError(f"{path}: truncated: chunk {index} is incomplete ({len(block)} bytes)")
            try:
                plain = aead.decrypt(_nonce(prefix, index), block, _associated(header, index, final))
            except InvalidTag:
                raise SealedFileError(f"{path}: {_failure(aead, prefix, header, index, block, final)}") from None
            yield plain
            if final:
                return
            block, index = following, index + 1


def _failure(aead: AESGCM, prefix: bytes, header: bytes, index: int, block: bytes, final: bool) -> str:
    """Why chunk `index` fails: the chunk is sound but the file ends at the wrong place, or the chunk is bad."""
    try:
        aead.decrypt(_nonce(prefix, index), block, _associated(header, index, not final))
    except InvalidTag:
        return (f"chunk {index} fails authentication: the file was altered, cut, extended, reordered, or sealed "
                "with another key")
    if final:
        return f"truncated: chunk {index} is intact but the chunks after it are missing"
    return f"bytes were appended after the final chunk {index}"


def _aead(key: bytes) -> AESGCM:
    if len(key) != 32:
        raise ValueError(f"a sealing key has 32 bytes, not {len(key)}")
    return AESGCM(key)


def _nonce(prefix: bytes, index: int) -> bytes:
    return prefix + index.to_bytes(4, "big")


def _associated(header: bytes, index: int, final: bool) -> bytes:
    return header + index.to_bytes(4, "big") + (b"\x01" if final else b"\x00")

"""The recitation guard's index: every verbatim span of a model's output that contributed text holds.

The index keeps, for every contributed text, its winnowed K-gram fingerprints (onett_text.passages) sorted, with the
text and position of each, and the text's token ids. A query hashes every K-gram of the output (not winnowed: any
K-gram may be the one a text kept), looks all of them up at once with a binary search, and groups the hits by text
and diagonal (text position minus output position). Each hit is then extended left and right by comparing token
ids, so a reported span is a maximal run the output and the text really share, never a hash match. Winnowing
keeps the smallest K-gram hash of every W consecutive ones, so a shared run of at least GUARANTEED_SPAN tokens holds
a kept K-gram and is found: spans shorter than that cannot be promised, hence the floor on `min_tokens`.

The texts are kept in segments that never change once written (LSM-style): a new submission's texts are a new
segment, texts leaving the pool take their segment with them into a rewritten one, and segments of one size are
merged when there are a few; so keeping the index current costs about the text that changed, not the pool.

On disk an index is a folder of segment folders of .npy files read with np.load(mmap_mode="r"), so a service opens
it in milliseconds and the pages it never touches stay on disk. `save` writes a new generation beside the folder
(unchanged segments hard-linked, not copied) and swaps a symlink to it in one rename: a reader sees the old index or
the new one, never half of either. The sources (which documents hold each text) may be kept in parts the caller
names, linked into the next generation like segments when unchanged, so an update rewrites only the parts that moved.
"""

from __future__ import annotations

import itertools
import json
import os
import re
import shutil
import tempfile
import threading
import time
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Collection, Iterable, Iterator, Mapping

import numpy as np
import polars as pl
import pyarrow.parquet as pq

from onett_text.passages import GUARANTEED_SPAN, K, W, batch_fingerprints, char_offsets, encode, kgram_hashes

DEFAULT_MIN_TOKENS = 50
GROWTH = 2  # block width factor of the run extension
MAX_SOURCES = 5  # sources listed per span; the total is always given
MAX_HITS = 1 << 20  # fingerprint hits one query extends: ~0.2 s of work; past it, see RecitationIndex.scan
BLOCK_CELLS = 1 << 20  # token comparisons per step of the run extension (bounds its memory)
FORMAT = 2  # 2: segments
MERGE_FANOUT = 4  # segments of one size merged into one
SEGMENT_TOKENS = 1 << 26  # at most this many tokens per segment (256 MiB of ids): bounds the memory of an update
BUILD_TEXTS = 1 << 14  # texts whose pieces a segment being built joins at once
BUILD_TOKENS = 1 << 20  # ... or tokens: fingerprinting a batch takes about 100 bytes a token for a moment
MANIFEST = "manifest.json"
SOURCES = "sources.json"  # text id -> entry, as given by a caller
SOURCE_ROWS = "sources.parquet"  # one row per (text, document holding it), in one file
SOURCE_PARTS = "sources"  # or in parts: a folder of Parquet files named by the caller, read in the catalog's order
SOURCE_CATALOG = "catalog.parquet"  # in that folder: a row per part ("part" and the caller's own columns)
DOCUMENT_FIELDS = ("contributor_id", "document_id", "file", "position", "doc_id")
SOURCE_SCHEMA = {"text_id": pl.Int64, "content_hash": pl.String, "contributor_id": pl.String,
                 "document_id": pl.String, "file": pl.String, "position": pl.Int64, "doc_id": pl.String}
_PART_NAME = re.compile(r"[A-Za-z0-9_-]{1,100}")
_ARRAYS = ("hashes", "fp_text", "fp_pos", "tokens", "starts", "text_ids")


@dataclass
class SourceParts:
    """The sources in parts (the platform keeps one per document partition): `catalog` has a row per part, in
    reading order, with its name in "part" and whatever columns tell its caller when the part is stale; `frames`
    gives each part's rows (SOURCE_SCHEMA), or the file of an earlier generation to link unchanged."""

    catalog: pl.DataFrame
    frames: Mapping[str, pl.DataFrame | Path]


@dataclass(frozen=True)
class Source:
    """Where a span is in a contributed text: the text's id and the token at which the span starts there."""
    text_id: int
    position: int


@dataclass(frozen=True)
class Match:
    """A run of output tokens [start, end) that contributed text holds verbatim."""
    start: int
    end: int
    sources: tuple[Source, ...]  # at most MAX_SOURCES, lowest text index first
    source_count: int  # every text holding this exact run

    @property
    def tokens(self) -> int:
        return self.end - self.start


@dataclass(frozen=True)
class Span:
    """A Match with the characters it covers in the output text: text[start:end]."""
    start: int
    end: int
    start_token: int
    end_token: int
    sources: tuple[Source, ...]
    source_count: int

    @property
    def tokens(self) -> int:
        return self.end_token - self.start_token


@dataclass(frozen=True)
class Verdict:
    verdict: str  # "ok" or "recites"
    spans: tuple[Span, ...]
    tokens: int  # tokens of the output
    complete: bool = True  # False: the output's K-grams had too many hits to extend all (RecitationIndex.scan)


@dataclass(frozen=True)
class Scan:
    matches: list[Match]
    complete: bool


def _check_min_tokens(min_tokens: int) -> int:
    if not isinstance(min_tokens, (int, np.integer)) or min_tokens < GUARANTEED_SPAN:
        raise ValueError(f"min_tokens must be a whole number of at least {GUARANTEED_SPAN} (K + W - 1): "
                         f"shorter shared spans may hold no kept fingerprint, got {min_tokens!r}")
    return int(min_tokens)


def _hit_cap(counts: np.ndarray, limit: int) -> int:
    """The largest c with sum(min(counts, c)) <= limit (at least 1)."""
    ordered = np.sort(counts)
    below = np.concatenate([[0], np.cumsum(ordered)])  # below[k]: the k smallest, whole
    rest = len(ordered) - np.arange(len(ordered) + 1)  # capped ones when the k smallest are whole
    # a cap of ordered[k] fits when the k smallest whole and the others at ordered[k] do; the largest such k
    # leaves ordered[k] whole too, and the others share what is left
    fits = np.flatnonzero(below[:-1] + ordered * rest[:-1] <= limit)
    k = int(fits[-1]) + 1 if len(fits) else 0
    if k == len(ordered):
        return max(int(ordered[-1]), 1)
    return max(int((limit - below[k]) // rest[k]), 1)


def _run_lengths(out: np.ndarray, tokens: np.ndarray, o: np.ndarray, g: np.ndarray, room: np.ndarray,
                 step: int) -> np.ndarray:
    """How many tokens out[o + i*step] == tokens[g + i*step] hold for i = 0, 1, ... (at most `room`), for every
    candidate at once: blocks of doubling width, only the candidates still matching go on."""
    done = np.zeros(len(o), dtype=np.int64)
    active = np.flatnonzero(room > 0)
    width = 32
    while active.size:
        left = room[active] - done[active]
        w = int(min(width, left.max(), max(BLOCK_CELLS // len(active), 16)))
        offsets = np.arange(0, w * step, step, dtype=np.int64)
        at_out = (o[active] + done[active] * step)[:, None] + offsets
        at_text = (g[active] + done[active] * step)[:, None] + offsets
        # past a candidate's room the indices are clipped (and the comparison ignored)
        same = out[np.clip(at_out, 0, len(out) - 1)] == tokens[np.clip(at_text, 0, len(tokens) - 1)]
        if (left < w).any():
            same &= np.arange(w) < left[:, None]
        full = same.all(axis=1)
        done[active] += np.where(full, w, same.argmin(axis=1))
        active = active[full & (left > w)]
        width = min(width * GROWTH, 4096)
    return done


class Segment:
    """Part of an index, never changed once written: fingerprints (sorted u64, with the text index and token
    position of each) and the token ids of its texts, concatenated, with each text's start. Texts shorter than
    GUARANTEED_SPAN tokens cannot hold a reportable span and are left out. `folder`: where it was loaded from (a
    saved index links it into its next generation instead of writing it again)."""

    def __init__(self, hashes: np.ndarray, fp_text: np.ndarray, fp_pos: np.ndarray, tokens: np.ndarray,
                 starts: np.ndarray, text_ids: np.ndarray, folder: Path | None = None):
        # plain ndarray views of memory maps: np.memmap's subclass hooks cost more than a small query does
        self.hashes, self.fp_text, self.fp_pos = np.asarray(hashes), np.asarray(fp_text), np.asarray(fp_pos)
        self.tokens, self.starts, self.text_ids = np.asarray(tokens), np.asarray(starts), np.asarray(text_ids)
        self.folder = folder

    # ---- building -----------------------------------------------------------------------------------------
    @classmethod
    def build(cls, texts: Iterable[tuple[int, np.ndarray]]) -> "Segment":
        """A segment of `(text_id, token ids)` pairs, fingerprinted as they come, BUILD_TEXTS texts or BUILD_TOKENS
        tokens at a time (batch_fingerprints: a few numpy passes per batch, not per text). A batch is fingerprinted on
        a thread of its own while the next one is read (numpy lets go of the GIL: a reader that tokenizes or reads
        Parquet and the hashing share two cores), at most one batch ahead. Each batch's pieces are let go of once
        gathered, so a segment of many short texts holds no Python object per text (a segment of SEGMENT_TOKENS
        tokens is about 11 bytes a token at its peak)."""
        chunks: dict[str, list[np.ndarray]] = {"ids": [], "hashes": [], "pos": [], "lengths": [], "counts": [],
                                               "text_ids": []}
        pending_ids: list[np.ndarray] = []
        pending_text_ids: list[int] = []
        pending_tokens = 0
        hashing: list[Future] = []  # the batch being fingerprinted

        def collect() -> None:
            if hashing:
                for name, value in zip(("hashes", "pos", "counts"), hashing.pop().result()):
                    chunks[name].append(value)

        def join() -> None:
            lengths = np.fromiter((len(x) for x in pending_ids), dtype=np.int64, count=len(pending_ids))
            ids = _gathered(pending_ids, np.uint32)
            collect()
            hashing.append(fingerprinting.submit(batch_fingerprints, ids, lengths))
            for name, value in (("ids", ids), ("lengths", lengths),
                                ("text_ids", np.array(pending_text_ids, dtype=np.int64))):
                chunks[name].append(value)
            pending_text_ids.clear()

        with ThreadPoolExecutor(1, thread_name_prefix="fingerprints") as fingerprinting:
            for text_id, ids in texts:
                ids = np.asarray(ids, dtype=np.uint32)
                if len(ids) < GUARANTEED_SPAN:
                    continue
                pending_ids.append(ids)
                pending_text_ids.append(int(text_id))
                pending_tokens += len(ids)
                if len(pending_ids) == BUILD_TEXTS or pending_tokens >= BUILD_TOKENS:
                    join()
                    pending_tokens = 0
            join()
            collect()
        lengths, counts = _gathered(chunks["lengths"], np.int64), _gathered(chunks["counts"], np.int64)
        tokens = _gathered(chunks["ids"], np.uint32)
        hashes = _gathered(chunks["hashes"], np.uint64)
        order = np.argsort(hashes, kind="stable")
        hashes = hashes[order]
        fp_pos = _gathered(chunks["pos"], np.uint32)[order]
        fp_text = np.repeat(np.arange(len(counts), dtype=np.uint32), counts)[order]
        return cls(hashes, fp_text, fp_pos, tokens, np.concatenate([[0], np.cumsum(lengths)]).astype(np.int64),
                   _gathered(chunks["text_ids"], np.int64))

    @classmethod
    def merge(cls, parts: list[tuple["Segment", np.ndarray]]) -> "Segment":
        """One segment of the texts each part keeps (`keep`: a bool per text of the part), in part order: what
        `build` makes of the same texts, from the stored fingerprints (no text is hashed again)."""
        hashes, fp_text, fp_pos, tokens, lengths, text_ids, base = [], [], [], [], [], [], 0
        for segment, keep in parts:
            kept = np.flatnonzero(keep)
            renumber = np.full(segment.text_count, -1, dtype=np.int64)
            renumber[kept] = base + np.arange(len(kept))
            held = keep[segment.fp_text]
            hashes.append(segment.hashes[held])
            fp_text.append(renumber[segment.fp_text[held]].astype(np.uint32))
            fp_pos.append(segment.fp_pos[held])
            starts = segment.starts
            if len(kept) == segment.text_count:
                tokens.append(segment.tokens)
            else:
                tokens += [segment.tokens[starts[i]:starts[i + 1]] for i in kept.tolist()]
            lengths.append(np.diff(starts)[kept])
            text_ids.append(segment.text_ids[kept])
            base += len(kept)
        if base == 0:
            return cls.build([])
        joined = np.concatenate(hashes)
        order = np.argsort(joined, kind="stable")  # ties stay in text order, as `build` leaves them
        return cls(joined[order], np.concatenate(fp_text)[order], np.concatenate(fp_pos)[order],
                   np.concatenate(tokens).astype(np.uint32, copy=False),
                   np.concatenate([[0], np.cumsum(np.concatenate(lengths))]).astype(np.int64),
                   np.concatenate(text_ids).astype(np.int64))

    # ---- sizes --------------------------------------------------------------------------------------------
    @property
    def text_count(self) -> int:
        return len(self.text_ids)

    @property
    def token_count(self) -> int:
        return int(self.starts[-1]) if len(self.starts) else 0

    @property
    def nbytes(self) -> int:
        return sum(getattr(self, name).nbytes for name in _ARRAYS)

    @property
    def bytes_per_token(self) -> float:
        """Bytes of the arrays per indexed token: about 4 for the ids and 16 per kept fingerprint, one per ~16."""
        return self.nbytes / max(self.token_count, 1)

    # ---- disk ---------------------------------------------------------------------------------------------
    def write(self, folder: Path) -> None:
        """The arrays as .npy files in `folder` (made here), synced; or hard links to the files it was loaded
        from (same file system: a generation's siblings), which costs nothing however large it is."""
        folder.mkdir()
        for name in _ARRAYS:
            path = folder / f"{name}.npy"
            if self.folder is not None:
                try:
                    os.link(self.folder / path.name, path)
                    continue
                except OSError:
                    pass
            with open(path, "wb") as handle:
                np.save(handle, getattr(self, name))
                handle.flush()
                os.fsync(handle.fileno())

    @classmethod
    def open(cls, folder: Path) -> "Segment":
        return cls(**{name: np.load(folder / f"{name}.npy", mmap_mode="r") for name in _ARRAYS}, folder=folder)

    # ---- queries ------------------------------------------------------------------------------------------
    def runs(self, output_ids: np.ndarray, min_tokens: int = DEFAULT_MIN_TOKENS) -> np.ndarray:
        """Every maximal run of at least `min_tokens` tokens the output shares with an indexed text, one row per
        (text, output range): columns output start, output end, text index, position in the text (the first,
        where the text holds the run more than once). Sorted by start, end, text index."""
        return self._runs(output_ids, min_tokens)[0]

    def _runs(self, output_ids: np.ndarray, min_tokens: int) -> tuple[np.ndarray, bool]:
        min_tokens = _check_min_tokens(min_tokens)
        out = np.ascontiguousarray(output_ids, dtype=np.uint32)
        none = np.zeros((0, 4), dtype=np.int64)
        if len(out) < min_tokens or len(self.hashes) == 0:
            return none, True
        h = kgram_hashes(out)
        lo = np.searchsorted(self.hashes, h, side="left")
        counts = np.searchsorted(self.hashes, h, side="right") - lo
        total = int(counts.sum())
        if total == 0:
            return none, True
        complete = total <= MAX_HITS
        if not complete:
            # repeated junk ("iIiIiI...", rules of "=") against texts that repeat it: the runs are as many as output
            # positions times text positions. Each K-gram keeps its first `cap` places (texts in index order), the
            # largest cap within MAX_HITS: every span still reported is real, some may be missed.
            counts = np.minimum(counts, _hit_cap(counts, MAX_HITS))
            total = int(counts.sum())
        begin = np.cumsum(counts) - counts
        hit = np.repeat(lo - begin, counts) + np.arange(total)
        p = np.repeat(np.arange(len(h), dtype=np.int64), counts)
        t = self.fp_text[hit].astype(np.int64)
        g = self.starts[t] + self.fp_pos[hit].astype(np.int64)
        # hits on one diagonal a few tokens apart are usually one run: extend the first of each cluster, then the
        # hits the runs found so far do not cover (a mismatch between two hits splits them into two runs)
        diagonal = g - p
        order = np.lexsort((p, diagonal))
        p, g, t, diagonal = p[order], g[order], t[order], diagonal[order]
        found = []
        pending = np.ones(len(p), dtype=bool)
        while pending.any():
            idx = np.flatnonzero(pending)
            first = np.ones(len(idx), dtype=bool)
            first[1:] = (diagonal[idx[1:]] != diagonal[idx[:-1]]) | (p[idx[1:]] - p[idx[:-1]] > W)
            pick = idx[first]
            pp, gg, tt = p[pick], g[pick], t[pick]
            text_start = self.starts[tt]
            right = _run_lengths(out, self.tokens, pp, gg, np.minimum(len(out) - pp, self.starts[tt + 1] - gg), 1)
            left = _run_lengths(out, self.tokens, pp - 1, gg - 1, np.minimum(pp, gg - text_start), -1)
            found.append(np.stack([pp - left, pp + right, tt, gg - left - text_start], axis=1))
            # a hit whose K-gram lies inside its cluster's run is on that run: it needs no extending of its own
            cluster = np.cumsum(first) - 1
            pending[idx[p[idx] + K <= (pp + right)[cluster]]] = False
            pending[pick] = False
        runs = np.concatenate(found)
        runs = runs[runs[:, 1] - runs[:, 0] >= min_tokens]
        if len(runs) == 0:
            return none, complete
        # one row per (output range, text): a text holding the run twice is one source, at its first position
        runs = runs[np.lexsort((runs[:, 3], runs[:, 2], runs[:, 1], runs[:, 0]))]
        keep = np.ones(len(runs), dtype=bool)
        keep[1:] = np.any(runs[1:, :3] != runs[:-1, :3], axis=1)
        return runs[keep], complete


class RecitationIndex:
    """Every contributed text the guard holds, in segments queried together: an update writes a segment of the new
    texts, rewrites only the segments that held texts leaving the pool, and merges segments of about the same size
    once there are MERGE_FANOUT of them, so updating costs about the new text (each token is merged again about
    log4 of the pool's size times), not the pool. `sources` maps a text id to {"contributor_id", "content_hash",
    "documents": [...]}, what the operator's view names."""

    def __init__(self, segments: list[Segment], encoding: str = "cl100k_base",
                 sources: Mapping[int, dict] | pl.DataFrame | SourceParts | None = None, folder: Path | None = None):
        self.segments = [s for s in segments if s.text_count] or [Segment.build([])]
        self.encoding = encoding
        self.folder = folder
        self.text_ids = np.concatenate([s.text_ids for s in self.segments]).astype(np.int64)
        self._bases = np.cumsum([0] + [s.text_count for s in self.segments])
        self._parts = sources if isinstance(sources, SourceParts) else None
        self._rows = sources if isinstance(sources, pl.DataFrame) else None
        self._sources = None if self._rows is not None or self._parts is not None or (
            sources is None and folder is not None) else dict(sources or {})
        self._sources_lock = threading.Lock()

    @classmethod
    def build(cls, texts: Iterable[tuple[int, np.ndarray]], encoding: str = "cl100k_base",
              sources: Mapping[int, dict] | pl.DataFrame | SourceParts | Callable | None = None,
              spill: Path | None = None) -> "RecitationIndex":
        """An index of `(text_id, token ids)` pairs, the ids from `encoding` (segments of at most SEGMENT_TOKENS,
        spilled as in `updated`). `sources`: text id -> entry, or rows of text_id, content_hash and DOCUMENT_FIELDS
        (one per document holding the text) whole or in SourceParts; a function giving them, called once `texts`
        is read."""
        segments = _merge_tiers(_segments(texts, spill), spill)
        return cls(segments, encoding, sources() if callable(sources) else sources)

    def updated(self, added: Iterable[tuple[int, np.ndarray]], removed: Collection[int],
                sources: Mapping[int, dict] | pl.DataFrame | SourceParts | Callable,
                spill: Path | None = None) -> "RecitationIndex":
        """This index without the texts `removed` (their segments rewritten without them) and with `added` (new
        segments of at most SEGMENT_TOKENS, `added` read as they fill), merged down to a few segments per size:
        the next generation to save. With `spill`, every segment made is written there at once and memory-mapped
        back, so an update of any size holds about one segment in memory; `sources` may be a function, called
        once `added` is read."""
        drop = np.fromiter(removed, np.int64, len(removed))
        kept: list[Segment] = []
        for segment in self.segments:
            keep = ~np.isin(segment.text_ids, drop)
            kept.append(segment if keep.all() else _spilled(Segment.merge([(segment, keep)]), spill))
        kept += _segments(added, spill)
        found = sources() if callable(sources) else sources
        return RecitationIndex(_merge_tiers([s for s in kept if s.text_count], spill), self.encoding, found)

    # ---- sizes --------------------------------------------------------------------------------------------
    @property
    def text_count(self) -> int:
        return len(self.text_ids)

    @property
    def token_count(self) -> int:
        return sum(s.token_count for s in self.segments)

    @property
    def fingerprint_count(self) -> int:
        return sum(len(s.hashes) for s in self.segments)

    @property
    def nbytes(self) -> int:
        return sum(s.nbytes for s in self.segments)

    @property
    def bytes_per_token(self) -> float:
        """Bytes of the arrays per indexed token: about 4 for the ids and 16 per kept fingerprint, one per ~16."""
        return self.nbytes / max(self.token_count, 1)

    @property
    def sources(self) -> dict[int, dict]:
        """text id -> {"contributor_id", "documents"} (and "content_hash" where the platform wrote it) of every text:
        read whole from a saved index on first use. Naming the sources of a few spans reads only theirs
        (`sources_of`)."""
        if self._sources is None:
            with self._sources_lock:
                if self._sources is None:
                    self._sources = self._read_sources()
        return self._sources

    def _read_sources(self) -> dict[int, dict]:
        rows = self._source_rows()
        if rows is not None:
            return _entries(rows)
        path = self.folder / SOURCES
        raw = json.loads(path.read_text()) if path.exists() else {}
        return {int(k): v for k, v in raw.items()}

    def _source_rows(self, text_ids: list[int] | None = None) -> pl.DataFrame | None:
        """The source rows (of `text_ids` only, if given) in reading order; None for sources kept as a mapping."""
        wanted = None if text_ids is None else pl.col("text_id").is_in(text_ids)
        if self._rows is not None:
            return self._rows if wanted is None else self._rows.filter(wanted)
        catalog = self.source_catalog()
        if catalog is not None:
            found = [self._part_file(part) for part in catalog["part"].to_list()]
            frames = [f.lazy() if isinstance(f, pl.DataFrame) else pl.scan_parquet(f) for f in found]
            rows = pl.concat(frames, how="vertical_relaxed") if frames else pl.LazyFrame(schema=SOURCE_SCHEMA)
            return (rows if wanted is None else rows.filter(wanted)).collect()
        if self.folder is not None and (self.folder / SOURCE_ROWS).exists():
            rows = pl.scan_parquet(self.folder / SOURCE_ROWS)
            return (rows if wanted is None else rows.filter(wanted)).collect()
        return None

    def sources_of(self, text_ids: Iterable[int]) -> dict[int, dict]:
        """The entries of `sources` for these texts only, reading only their rows (a pool's worth of document ids is
        never gathered to name the sources of a few spans)."""
        ids = sorted({int(t) for t in text_ids})
        if not ids:
            return {}
        if self._sources is not None:
            return {t: self._sources[t] for t in ids if t in self._sources}
        rows = self._source_rows(ids)
        if rows is None:  # an index saved with a mapping (sources.json): read whole
            return {t: self.sources[t] for t in ids if t in self.sources}
        return _entries(rows)

    def source(self, text_id: int) -> dict | None:
        return self.sources_of([text_id]).get(int(text_id))

    def source_catalog(self) -> pl.DataFrame | None:
        """The catalog of the sources' parts (None: the sources are not kept in parts)."""
        if self._parts is not None:
            return self._parts.catalog
        path = None if self.folder is None else self.folder / SOURCE_PARTS / SOURCE_CATALOG
        return pl.read_parquet(path) if path is not None and path.exists() else None

    def source_rows(self, part: str) -> int:
        """How many rows one part of the sources holds, every page read (checksums verified where written) a row
        group at a time: a check of the largest partition's part holds one row group, not the part. Raises OSError
        or ValueError when the part cannot be read."""
        found = self._part_file(part)
        if not isinstance(found, Path):
            return found.height
        source = pq.ParquetFile(found, page_checksum_verification=True)
        return sum(source.read_row_group(group).num_rows for group in range(source.num_row_groups))

    def _part_file(self, part: str) -> pl.DataFrame | Path:
        if self._parts is not None:
            return self._parts.frames[part]
        return self.folder / SOURCE_PARTS / f"{part}.parquet"

    # ---- disk ---------------------------------------------------------------------------------------------
    def save(self, folder: str | Path, sources: Mapping[int, dict] | None = None, keep_previous: bool = True) -> Path:
        """Write the index as `folder`: a symlink to a new generation folder beside it (`.{name}.{stamp}`), swapped
        in by one rename once every file is written and synced; the previous generation is kept if `keep_previous`
        (a reader may be opening it; one that has opened it keeps its memory maps either way), older ones are
        removed. Segments loaded from an earlier generation are hard-linked into the new one, not written again.
        The generation folder stays private to the platform user (mkdtemp's 0700): it holds text. `sources`
        (text id -> {"contributor_id", "documents"}) is written in place of the index's own. Returns the
        generation folder."""
        folder = Path(folder).absolute()
        folder.parent.mkdir(parents=True, exist_ok=True)
        generation = Path(tempfile.mkdtemp(prefix=f".{folder.name}.{time.time_ns():020d}.", dir=folder.parent))
        try:
            names = [f"segment-{n:04d}" for n in range(len(self.segments))]
            for name, segment in zip(names, self.segments):
                segment.write(generation / name)
            mapping = sources if sources is not None else (
                self._parts or (self._rows if self._rows is not None else self.source_parts() or self.sources))
            if isinstance(mapping, SourceParts):
                _write_parts(mapping, generation / SOURCE_PARTS)
            elif isinstance(mapping, pl.DataFrame):
                mapping.write_parquet(generation / SOURCE_ROWS)
            else:
                (generation / SOURCES).write_text(json.dumps({str(k): v for k, v in mapping.items()},
                                                             ensure_ascii=False))
            manifest = {"format": FORMAT, "encoding": self.encoding, "k": K, "w": W,
                        "guaranteed_span": GUARANTEED_SPAN, "segments": names, "texts": self.text_count,
                        "tokens": self.token_count, "fingerprints": self.fingerprint_count, "bytes": self.nbytes,
                        "created_ns": time.time_ns()}
            (generation / MANIFEST).write_text(json.dumps(manifest, indent=1))  # last: its presence means complete
        except BaseException:
            shutil.rmtree(generation, ignore_errors=True)  # a half-written generation is never left behind
            raise
        link = folder.parent / f".{folder.name}.link-{os.getpid()}"
        if link.is_symlink() or link.exists():
            link.unlink()
        os.symlink(generation.name, link)
        if folder.exists() and not folder.is_symlink():  # a plain folder from elsewhere: moved aside once
            os.rename(folder, folder.parent / f".{folder.name}.{time.time_ns():020d}.plain")
        previous = os.readlink(folder) if folder.is_symlink() else None
        os.replace(link, folder)
        fd = os.open(folder.parent, os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)
        keep = {generation.name, Path(previous).name if previous and keep_previous else ""}
        for old in folder.parent.glob(f".{folder.name}.*"):
            if old.name not in keep and old.is_dir() and not old.is_symlink():
                shutil.rmtree(old, ignore_errors=True)
        return generation

    def source_parts(self) -> SourceParts | None:
        """The sources' parts, as files to link for a loaded index (its next generation copies none it keeps)."""
        catalog = self.source_catalog()
        if catalog is None:
            return None
        return SourceParts(catalog, {part: self._part_file(part) for part in catalog["part"].to_list()})

    @classmethod
    def load(cls, folder: str | Path) -> "RecitationIndex":
        """Open a saved index (memory-mapped). The folder is resolved once, so a swap while loading does not mix
        two generations."""
        real = Path(folder).resolve(strict=True)
        manifest = json.loads((real / MANIFEST).read_text())
        if manifest.get("format") != FORMAT or (manifest.get("k"), manifest.get("w")) != (K, W):
            raise ValueError(f"{real} holds an index of another format or K/W: {manifest}")
        return cls([Segment.open(real / name) for name in manifest["segments"]], manifest["encoding"], folder=real)

    # ---- queries ------------------------------------------------------------------------------------------
    def runs(self, output_ids: np.ndarray, min_tokens: int = DEFAULT_MIN_TOKENS) -> np.ndarray:
        """Every maximal run of at least `min_tokens` tokens the output shares with an indexed text, one row per
        (text, output range): columns output start, output end, text index (into `text_ids`), position in the
        text (the first, where the text holds the run more than once). Sorted by start, end, text index."""
        return self._runs(output_ids, min_tokens)[0]

    def _runs(self, output_ids: np.ndarray, min_tokens: int) -> tuple[np.ndarray, bool]:
        found, complete = [], True
        for base, segment in zip(self._bases.tolist(), self.segments):
            runs, whole = segment._runs(output_ids, min_tokens)
            complete &= whole
            if len(runs):
                runs[:, 2] += base
                found.append(runs)
        if len(found) <= 1:
            return (found[0] if found else np.zeros((0, 4), dtype=np.int64)), complete
        runs = np.concatenate(found)
        return runs[np.lexsort((runs[:, 3], runs[:, 2], runs[:, 1], runs[:, 0]))], complete

    def find(self, output_ids: np.ndarray, min_tokens: int = DEFAULT_MIN_TOKENS) -> list[Match]:
        """The spans of at least `min_tokens` tokens of the output that contributed text holds verbatim, each with
        the texts holding it (at most MAX_SOURCES listed, all counted), in output order."""
        return self.scan(output_ids, min_tokens).matches

    def scan(self, output_ids: np.ndarray, min_tokens: int = DEFAULT_MIN_TOKENS) -> Scan:
        """find(), and whether the search was complete: it is unless the output's K-grams have more than
        MAX_HITS places in the index (never for prose; for a long output of repeated junk against texts that
        repeat the same junk), where each K-gram is looked for in at most that many places in all."""
        runs, complete = self._runs(output_ids, min_tokens)
        if len(runs) == 0:
            return Scan([], complete)
        heads = np.ones(len(runs), dtype=bool)
        heads[1:] = np.any(runs[1:, :2] != runs[:-1, :2], axis=1)
        firsts = np.flatnonzero(heads).tolist()
        rows, text_ids = runs.tolist(), self.text_ids[runs[:, 2]].tolist()
        matches = []
        for a, b in zip(firsts, firsts[1:] + [len(rows)]):
            sources = tuple(Source(text_ids[r], rows[r][3]) for r in range(a, min(b, a + MAX_SOURCES)))
            matches.append(Match(rows[a][0], rows[a][1], sources, b - a))
        return Scan(matches, complete)


def _entries(rows: pl.DataFrame) -> dict[int, dict]:
    """Source rows grouped by text id, in their order: a text's contributor is its first document's."""
    found: dict[int, dict] = {}
    for row in rows.iter_rows(named=True):
        entry = found.setdefault(row["text_id"], {"contributor_id": row["contributor_id"],
                                                  "content_hash": row["content_hash"], "documents": []})
        entry["documents"].append({k: row[k] for k in DOCUMENT_FIELDS})
    return found


def _write_parts(parts: SourceParts, folder: Path) -> None:
    """Each part as `<part>.parquet` in `folder` (an earlier generation's file hard-linked), then the catalog."""
    folder.mkdir()
    for part in parts.catalog["part"].to_list():
        if not _PART_NAME.fullmatch(part):
            raise ValueError(f"a source part is named by letters, digits, '-' and '_' (not {part!r})")
        rows, path = parts.frames[part], folder / f"{part}.parquet"
        if isinstance(rows, Path):
            try:
                os.link(rows, path)
            except OSError:
                shutil.copyfile(rows, path)
        else:
            rows.write_parquet(path)
    parts.catalog.write_parquet(folder / SOURCE_CATALOG)


def _gathered(pieces: list[np.ndarray], dtype: type) -> np.ndarray:
    """The pieces as one array; the list is emptied (its arrays freed unless held elsewhere)."""
    whole = np.concatenate(pieces) if pieces else np.zeros(0, dtype)
    pieces.clear()
    return whole


def _segments(texts: Iterable[tuple[int, np.ndarray]], spill: Path | None) -> list[Segment]:
    """Segments of at most SEGMENT_TOKENS tokens (one text over it is a segment of its own), each built as its
    texts arrive and spilled as soon as it is full."""
    made: list[Segment] = []
    source = iter(texts)
    carried: list[tuple[int, np.ndarray]] = []  # the text that opens the next segment

    def upto(first: tuple[int, np.ndarray]) -> Iterator[tuple[int, np.ndarray]]:
        tokens = 0
        for text_id, ids in itertools.chain([first], source):
            if tokens and tokens + len(ids) > SEGMENT_TOKENS:
                carried.append((text_id, ids))
                return
            tokens += len(ids)
            yield text_id, ids

    first = next(source, None)
    while first is not None:
        made.append(_spilled(Segment.build(upto(first)), spill))
        first = carried.pop() if carried else None
    return made


def _spilled(segment: Segment, spill: Path | None) -> Segment:
    """The segment written under `spill` and memory-mapped back (its memory is freed; `save` links the files), or
    as it is without `spill`."""
    if spill is None or segment.text_count == 0:
        return segment
    spill.mkdir(mode=0o700, parents=True, exist_ok=True)
    folder = Path(tempfile.mkdtemp(prefix="segment-", dir=spill))
    folder.rmdir()
    segment.write(folder)
    return Segment.open(folder)


def _tier(tokens: int) -> int:
    """t with MERGE_FANOUT**t <= tokens < MERGE_FANOUT**(t + 1) (0 below MERGE_FANOUT)."""
    tier = 0
    while tokens >= MERGE_FANOUT ** (tier + 1):
        tier += 1
    return tier


def _merge_tiers(segments: list[Segment], spill: Path | None = None) -> list[Segment]:
    """Segments of about the same size (the same power of MERGE_FANOUT of tokens) merged into one whenever there
    are MERGE_FANOUT of them, oldest first, until no size has that many: a few segments per size, so a query looks
    in O(log pool) segments and each token is merged O(log pool) times. A merge never makes a segment over
    SEGMENT_TOKENS: past that, segments stay as they are (a pool that large is sharded, docs/recitation.md)."""
    largest_tier = _tier(SEGMENT_TOKENS) - 2  # MERGE_FANOUT segments of it stay under the cap
    while True:
        tiers: dict[int, list[int]] = {}
        for n, segment in enumerate(segments):
            tier = _tier(segment.token_count)
            if tier <= largest_tier:
                tiers.setdefault(tier, []).append(n)
        full = next((members for _, members in sorted(tiers.items()) if len(members) >= MERGE_FANOUT), None)
        if full is None:
            return segments
        merged = Segment.merge([(segments[n], np.ones(segments[n].text_count, dtype=bool)) for n in full])
        segments = [s for n, s in enumerate(segments) if n not in full[1:]]
        segments[full[0]] = _spilled(merged, spill)


def check(text: str, encoding: str, index: RecitationIndex, min_tokens: int = DEFAULT_MIN_TOKENS) -> Verdict:
    """Whether a model's output recites contributed text, with each span's characters in `text`."""
    if encoding != index.encoding:
        raise ValueError(f"the index holds {index.encoding} token ids, not {encoding}")
    _check_min_tokens(min_tokens)
    ids = encode(text, encoding)
    scan = index.scan(ids, min_tokens)
    if not scan.matches:
        return Verdict("ok", (), len(ids), scan.complete)
    chars = char_offsets(text, ids, encoding)
    spans = tuple(Span(int(chars[m.start]), int(chars[m.end]), m.start, m.end, m.sources, m.source_count)
                  for m in scan.matches)
    return Verdict("recites", spans, len(ids), scan.complete)

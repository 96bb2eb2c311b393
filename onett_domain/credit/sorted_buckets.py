"""Beside each file of the near-duplicate index's band buckets (bucket_index), its rows sorted by bucket (SORTED) and
a Bloom filter of its buckets (FILTER): a submission's few texts look their buckets up there by binary search, so
their search reads a few pages per bucket rather than every row of the index. A join over all rows costs what the
pool holds, every submission; the lookup costs what the submission brings (docs/throughput.md).

The sorted rows are memory-mapped, and a lookup lets go of the pages it read every LOOKUP_CHUNK buckets: they stay in
the page cache, but not in the process, whose RSS would otherwise grow with every page of the index it touched. The
filter is an eighth of the sorted rows' size: most of a submission's buckets match nothing, and only those the
filter may hold are searched (fewer searches in an index held in memory; an index on disk is read about as much
either way, docs/throughput.md).

Both are derived from the Parquet file: a merge writes the merged file's by merging its inputs' (a chunk at a time:
memory stays bounded however large the file), any other file's are written by sorting it (in runs of SORT_RUN rows,
merged the same way), by compaction or by the first lookup that needs them, and they leave the disk with their
file. Each is written whole or not at all."""

from __future__ import annotations

import math
import mmap
import os
import threading
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import BinaryIO, Callable, Iterable, Iterator

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

from onett_domain.credit import key_filter

SORTED = ".sorted.npy"  # beside each file: its rows sorted by bucket, a (2, rows) int64 array (buckets, text ids)
FILTER = ".filter.npy"  # beside each file: a Bloom filter of its buckets (key_filter), uint64 words
LOOKUP_MATCHES = 4_000_000  # bucket matches above which a lookup gives up: the join spills to disk, arrays would not
LOOKUP_THREADS = 8  # files searched at once: their page faults overlap when the index is on disk
LOOKUP_CHUNK = 1 << 14  # buckets searched in a file before the pages they read are let go
MERGE_CHUNK = 1 << 19  # rows of each input's sorted rows held at once while merging them (8 MiB per array)
SORT_RUN = 1 << 22  # rows of a file sorted at once (about 160 MiB meanwhile); a larger file is sorted in runs, merged


def check(parquets: Iterable[Path]) -> tuple[int, list[str]]:
    """Compares the sorted rows beside each file with the file (as many rows, buckets in order, and the same rows:
    order-independent sums, a chunk at a time, so memory stays bounded) and its filter (holds every bucket: one it
    missed would hide a near copy); returns the arrays checked and the problems found. A missing array or filter is
    none: the next lookup or compaction writes it."""
    checked, problems = 0, []
    for path in parquets:
        if not sorted_path(path).exists():
            continue
        checked += 1
        try:
            run = _SortedRun(sorted_path(path))
        except (ValueError, OSError) as exc:
            problems.append(f"sorted rows {sorted_path(path)}: unreadable ({exc})")
            continue
        with run.handle:
            stored, ordered, last = np.zeros(3, np.uint64), True, None
            while run.at < run.rows:
                run.fill(MERGE_CHUNK)
                keys, ids = run.take(len(run.keys))
                ordered &= bool((np.diff(keys) >= 0).all()) and (last is None or keys[0] >= last)
                last = keys[-1]
                stored += _row_sums(keys, ids)
        words = np.load(filter_path(path), mmap_mode="r") if filter_path(path).exists() else None
        listed, rows, missed = np.zeros(3, np.uint64), 0, 0
        for batch in pq.ParquetFile(path).iter_batches(MERGE_CHUNK, columns=["bucket", "text_id"]):
            buckets = batch.column(0).to_numpy()
            listed += _row_sums(buckets, batch.column(1).to_numpy())
            rows += batch.num_rows
            if words is not None:
                missed += int((~key_filter.may_hold(words, buckets)).sum())
        if rows != run.rows or not ordered or (stored != listed).any():
            problems.append(f"sorted rows {sorted_path(path)}: do not hold {path.name}'s rows in bucket order (delete "
                            "them: the next lookup or compaction writes them again)")
        if words is not None and (missed or len(words) != key_filter.words_for(rows)):
            problems.append(f"filter {filter_path(path)}: misses {missed:,} of {path.name}'s {rows:,} buckets or is "
                            "not its size (delete it: the next lookup or compaction writes it again)")
    return checked, problems


def _row_sums(keys: np.ndarray, ids: np.ndarray) -> np.ndarray:
    """Order-independent sums of rows (wrapping): equal for the same rows in any order, almost surely different
    otherwise."""
    keys, ids = keys.astype(np.uint64), ids.astype(np.uint64)
    mixed = (keys * np.uint64(0x9E3779B97F4A7C15)) ^ (ids * np.uint64(0xC2B2AE3D27D4EB4F))
    mixed ^= mixed >> np.uint64(29)
    return np.array([keys.sum(dtype=np.uint64), ids.sum(dtype=np.uint64), mixed.sum(dtype=np.uint64)],
                    dtype=np.uint64)


def lookup(queries: Path, by_shard: dict[int, list[str]], out: Path) -> bool:
    """The candidate pairs of the bucket rows under `queries` (by shard), looked up in each file's sorted rows
    (binary search, LOOKUP_THREADS files at once) and written to `out`; False, with nothing written, when they would
    match more than LOOKUP_MATCHES rows (many copies of one text: the join spills to disk where these arrays would
    not)."""
    jobs = []
    for shard, paths in sorted(by_shard.items()):
        parts = sorted((queries / f"shard={shard}").glob("*.parquet"))
        if not parts:
            continue
        rows = pq.read_table(parts, columns=["bucket", "text_id"])
        buckets = rows.column("bucket").to_numpy()
        order = np.argsort(buckets)
        buckets, ids = buckets[order], rows.column("text_id").to_numpy()[order]
        mixed = key_filter.mix(buckets)  # once for the shard's files
        jobs += [(Path(path), buckets, mixed, ids) for path in paths]
    for path in sorted({job[0] for job in jobs}):  # files merged or added since compaction: one sort at a time
        if not sorted_path(path).exists():
            write(path)
    matches = _Matches(LOOKUP_MATCHES)
    a_parts, b_parts = [np.zeros(0, np.int64)], [np.zeros(0, np.int64)]
    with ThreadPoolExecutor(LOOKUP_THREADS) as pool:
        try:
            for a, b in pool.map(lambda job: _file_pairs(*job, matches), jobs):  # in job order
                a_parts.append(a)
                b_parts.append(b)
        except _TooManyMatches:
            pool.shutdown(cancel_futures=True)
            return False
    pairs = pa.table({"a": np.concatenate(a_parts), "b": np.concatenate(b_parts)})
    pq.write_table(pairs, out, compression="none", use_dictionary=False)  # read once, next to here
    return True


class _TooManyMatches(Exception):
    """A lookup's matches passed its limit."""


class _Matches:
    """The bucket matches a lookup's files have found so far, across its threads, against a limit."""

    def __init__(self, limit: int):
        self.limit, self.found, self._lock = limit, 0, threading.Lock()

    def add(self, count: int) -> None:
        with self._lock:
            self.found += count
            if self.found > self.limit:
                raise _TooManyMatches


def _file_pairs(parquet: Path, buckets: np.ndarray, mixed: key_filter.Mixed, ids: np.ndarray,
                matches: _Matches) -> tuple[np.ndarray, np.ndarray]:
    """The candidate pairs (a, b), a < b, of the queried texts `ids` (their rows' `buckets` sorted, and `mixed` for
    the filter) with the texts of one file, found by binary search in its sorted rows LOOKUP_CHUNK buckets at a
    time. The pages each chunk read are let go after it (they stay in the page cache): the lookup's memory is a
    chunk's pages per thread, not every page of the index."""
    maybe = np.flatnonzero(key_filter.may_hold(_filter(parquet), mixed))  # most keys match nothing
    stored, let_go = _mapped(sorted_path(parquet))
    keys, texts = stored
    a_parts, b_parts = [np.zeros(0, np.int64)], [np.zeros(0, np.int64)]
    for start in range(0, len(maybe) if len(keys) else 0, LOOKUP_CHUNK):
        asked = maybe[start:start + LOOKUP_CHUNK]
        wanted = buckets[asked]
        first = np.searchsorted(keys, wanted, "left")
        hit = np.flatnonzero(keys[np.minimum(first, len(keys) - 1)] == wanted)
        if len(hit):
            counts = np.searchsorted(keys, wanted[hit], "right") - first[hit]
            total = int(counts.sum())
            matches.add(total)
            # each match's row: its bucket's first + k
            starts = np.repeat(first[hit] - np.cumsum(counts) + counts, counts)
            other = texts[starts + np.arange(total)]
            mine = np.repeat(ids[asked[hit]], counts)
            keep = mine != other
            a_parts.append(np.minimum(mine, other)[keep])
            b_parts.append(np.maximum(mine, other)[keep])
        let_go()
    return np.concatenate(a_parts), np.concatenate(b_parts)


def _mapped(path: Path) -> tuple[np.ndarray, Callable[[], None]]:
    """A .npy array memory-mapped read-only, as a plain array (np.load's memmap costs more to open and to index, and
    a lookup opens two a file), and a function that lets go of the pages read so far: they leave this process (its
    RSS) but stay in the page cache, where the next read finds them without the disk. The mapping closes with the
    last reference to the array."""
    with open(path, "rb") as handle:
        shape, dtype = _npy_header(handle, path)
        data = handle.tell()
        mapped = mmap.mmap(handle.fileno(), 0, access=mmap.ACCESS_READ)
    array = np.frombuffer(mapped, dtype=dtype, count=math.prod(shape), offset=data).reshape(shape)
    advice = getattr(mmap, "MADV_DONTNEED", None)  # Linux; elsewhere the pages stay mapped until the array goes
    return array, (lambda: mapped.madvise(advice)) if advice is not None else (lambda: None)


def sorted_path(parquet: Path) -> Path:
    return parquet.with_name(parquet.name[:-len(".parquet")] + SORTED)


def filter_path(parquet: Path) -> Path:
    return parquet.with_name(parquet.name[:-len(".parquet")] + FILTER)


def derived(parquet: Path) -> tuple[Path, Path]:
    """What is kept beside a file and leaves the disk with it."""
    return sorted_path(parquet), filter_path(parquet)


def _filter(parquet: Path) -> np.ndarray:
    """The file's Bloom filter, memory-mapped; written first (from its sorted rows) if it is missing."""
    path = filter_path(parquet)
    if not path.exists():
        write_filter(parquet)
    return _mapped(path)[0]


def write_filter(parquet: Path, words: np.ndarray | None = None) -> None:
    """Writes the file's filter beside it, whole or not at all: `words` if given, else built from its sorted rows
    a chunk at a time."""
    if words is None:
        keys = np.load(sorted_path(parquet), mmap_mode="r")[0]
        words = key_filter.empty(len(keys))
        for start in range(0, len(keys), MERGE_CHUNK):
            key_filter.add(words, keys[start:start + MERGE_CHUNK])
    partial = filter_path(parquet).with_suffix(f".{os.getpid()}.partial")
    with open(partial, "wb") as handle:
        np.save(handle, words)
    os.replace(partial, filter_path(parquet))


def write(parquet: Path) -> None:
    """Writes the file's rows sorted by bucket beside it, whole or not at all, SORT_RUN rows at a time (about 40 bytes
    a row in memory meanwhile): a larger file (merged inside a submission, or restored) is sorted in runs set aside
    on disk, then merged, so memory stays bounded however large the file."""
    source = pq.ParquetFile(parquet)
    runs: list[Path] = []
    try:
        for buckets, ids in _row_runs(source):
            runs.append(sorted_path(parquet).with_suffix(f".{os.getpid()}.run{len(runs)}.partial"))
            _save_sorted(runs[-1], buckets, ids)
        if len(runs) == 1:
            os.replace(runs[0], sorted_path(parquet))
            write_filter(parquet)
        else:
            merge(runs, parquet, source.metadata.num_rows, chunk=max(1 << 10, 4 * MERGE_CHUNK // len(runs)))
    finally:
        for run in runs:
            run.unlink(missing_ok=True)


def _row_runs(source: pq.ParquetFile) -> Iterator[tuple[np.ndarray, np.ndarray]]:
    """The file's (buckets, text ids), SORT_RUN rows at a time (one empty run for a file without rows)."""
    pending, held, runs = [], 0, 0
    for batch in source.iter_batches(MERGE_CHUNK, columns=["bucket", "text_id"]):
        pending.append(batch)
        held += batch.num_rows
        if held >= SORT_RUN:
            table, pending, held, runs = pa.Table.from_batches(pending), [], 0, runs + 1
            yield table.column("bucket").to_numpy(), table.column("text_id").to_numpy()
    if pending:
        table = pa.Table.from_batches(pending)
        yield table.column("bucket").to_numpy(), table.column("text_id").to_numpy()
    elif not runs:
        yield np.zeros(0, np.int64), np.zeros(0, np.int64)


def _save_sorted(path: Path, buckets: np.ndarray, ids: np.ndarray) -> None:
    """Rows as a (2, rows) int64 array sorted by bucket (the order of equal buckets does not matter: pairs are a
    set)."""
    order = np.argsort(buckets)
    rows = np.empty((2, len(order)), np.int64)  # taken into place: no copy of either column beside it
    np.take(buckets, order, out=rows[0])
    np.take(ids, order, out=rows[1])
    del order
    with open(path, "wb") as handle:
        np.save(handle, rows)


def merge(inputs: list[Path], parquet: Path, rows: int, chunk: int = MERGE_CHUNK) -> None:
    """Writes the sorted rows of `parquet` (`rows` of them) by merging its inputs' sorted rows, `chunk` rows of each
    at a time: each step takes the next chunk of the input whose chunk ends lowest and, from the others,
    every row below that end, so what it writes sorts before everything left. Whole or not at all."""
    runs = [_SortedRun(path) for path in inputs]
    try:
        if sum(run.rows for run in runs) != rows:  # not this file's inputs: its own rows are sorted instead
            write(parquet)
            return
        partial = sorted_path(parquet).with_suffix(f".{os.getpid()}.partial")
        words = key_filter.empty(rows)
        with open(partial, "wb") as handle:
            np.lib.format.write_array_header_1_0(handle, {"descr": "<i8", "fortran_order": False, "shape": (2, rows)})
            data, written = handle.tell(), 0
            while written < rows:
                for run in runs:
                    run.fill(chunk)
                full = [run for run in runs if len(run.keys) == chunk]
                first = min(full, key=lambda run: run.keys[-1]) if full else None  # None: everything left is read
                end = first.keys[-1] if first else None
                pieces = [run.take(len(run.keys) if first is None or run is first
                                   else int(np.searchsorted(run.keys, end, "left"))) for run in runs]
                keys, ids = np.concatenate([k for k, _ in pieces]), np.concatenate([i for _, i in pieces])
                order = np.argsort(keys)
                handle.seek(data + 8 * written)
                keys[order].tofile(handle)
                handle.seek(data + 8 * (rows + written))
                ids[order].tofile(handle)
                key_filter.add(words, keys)
                written += len(keys)
        os.replace(partial, sorted_path(parquet))
        write_filter(parquet, words)
    finally:
        for run in runs:
            run.handle.close()


class _SortedRun:
    """A file's sorted rows on disk, read a chunk at a time (not memory-mapped: the merge's memory stays its
    chunks); `keys`, `ids`: the rows read and not yet merged."""

    def __init__(self, path: Path):
        self.handle = open(path, "rb")
        self.rows = _sorted_header(self.handle, path)
        self.data, self.at = self.handle.tell(), 0
        self.keys = self.ids = np.zeros(0, dtype=np.int64)

    def fill(self, chunk: int) -> None:
        missing = min(chunk, self.rows - self.at) - len(self.keys)
        if missing > 0:
            start = self.at + len(self.keys)
            self.keys = np.concatenate([self.keys, self._read(start, missing)])
            self.ids = np.concatenate([self.ids, self._read(self.rows + start, missing)])

    def take(self, count: int) -> tuple[np.ndarray, np.ndarray]:
        taken = self.keys[:count], self.ids[:count]
        self.keys, self.ids, self.at = self.keys[count:], self.ids[count:], self.at + count
        return taken

    def _read(self, row: int, count: int) -> np.ndarray:
        self.handle.seek(self.data + 8 * row)
        return np.fromfile(self.handle, dtype="<i8", count=count)


def _sorted_header(handle: BinaryIO, path: Path) -> int:
    """Reads the header of a file's sorted rows (a .npy (2, rows) int64 array), leaving `handle` at their data;
    returns how many rows."""
    shape, dtype = _npy_header(handle, path)
    if len(shape) != 2 or shape[0] != 2 or dtype != np.dtype("<i8"):
        raise ValueError(f"{path} does not hold a file's sorted rows")
    return shape[1]


def _npy_header(handle: BinaryIO, path: Path) -> tuple[tuple[int, ...], np.dtype]:
    """The shape and type of the .npy array in `handle`, leaving it at the array's data (C order only)."""
    version = np.lib.format.read_magic(handle)
    read_header = np.lib.format.read_array_header_1_0 if version == (1, 0) else np.lib.format.read_array_header_2_0
    shape, fortran, dtype = read_header(handle)
    if fortran:
        raise ValueError(f"{path} holds an array in Fortran order")
    return shape, dtype

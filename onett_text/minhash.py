"""Near-duplicate detection: MinHash signatures and LSH band keys that work on Korean and English.
(Kept over 300 lines: the measurements that chose each parameter stay with the parameters.)

Contributors are paid per accepted token, so a lightly edited copy of text we already have must be found
(recall), an unrelated document must not be (precision), and the same text must give the same signature on
every machine, in every process, in every year (payments are audited later). Hence:

- Shingles are character n-grams of the text with case, whitespace, punctuation and symbols removed. No word
  splitter is needed, so Hangul works exactly like Latin script (an ASCII-only ``\\W`` split gives Korean zero
  shingles), and re-spacing a Korean sentence (띄어쓰기: "할 수 있다" / "할수있다", the South/North orthography
  pairs) or re-wrapping lines changes nothing.
- Shingle hashes are plain integer arithmetic over code points (a polynomial over the n-gram, then the
  MurmurHash3 finalizer), vectorized with numpy: no salted ``hash()``, no per-shingle Python loop.
- Letters and digits are Python's ``str.isalnum`` and case is ``str.lower``: both follow the Unicode tables of
  the Python version, so a Python upgrade may reclassify characters assigned in a newer Unicode version (the
  pinned-value test in tests/text/test_near_dedup.py guards the common case; recompute stored signatures if it fails).
- The MinHash is datasketch's "affine32" permutation scheme (``MinHash(num_perm, seed=SEED)``, the default
  scheme of datasketch 2.0) applied to whole arrays at once; for the same shingle hashes it gives exactly the
  hash values of ``datasketch.MinHash.update_batch`` (the tests check this). Repeated shingles of a text are
  dropped before permuting (a minimum does not see them), and short texts are reduced across texts rather than
  one by one: the same values for less CPU.

Interface: ``signatures(texts) -> (sigs, eligible)``, ``band_keys(sigs)``, ``similarity(a, b)`` and the
constants below. Two documents are candidates when they share any (band, key); a candidate pair is a
near-duplicate when ``similarity >= THRESHOLD``. Only rows with ``eligible`` may be indexed.

Choice of parameters, measured with ``bench/near_dedup_eval.py`` (alternatives with its options). First the
shingles, by exact Jaccard of explicit shingle sets. Copies: 300 docs per corpus with 10% of the words
replaced/deleted/inserted, "p1" = 1st percentile of J(original, copy); "S/N" = median J of the 3,000 Korean
South/North orthography pairs (same sentence, other spelling and spacing); the rest = the highest J between
unrelated documents (Gutenberg: different books of ~400k chars; KJV: different chapters except 2 Kings 19 /
Isaiah 37 at .68-.77, and the maxima are other parallel passages such as 1 Samuel 31 / 1 Chronicles 10 and
2 Samuel 22 / Psalm 18; SOTU x50: two concatenations of 50 different speeches, 2.3M chars each).

  shingles (lower-cased,    10% copy p1        S/N    unrelated maximum
  punctuation removed)      pet  court sotu    med    Gutenberg  SOTU   KJV   SOTU x50
  word 2-grams              .67  .69   .72     .44    .13        <.2    .44
  word 3-grams              .56  .57   .60     .33    .05        <.2    .33
  char 5-grams with spaces  .72  .72   .82     .70    .49        <.5    .58
  char 7-grams with spaces  .66  .67   .75     .59    .25        <.3    .47
  char 4-grams, no spaces   .69  .69   .81    1.00    .57        <.6    .56
  char 5-grams, no spaces   .64  .65   .76    1.00    .35        <.4    .49   .52
  char 6-grams, no spaces   .60  .61   .72    1.00    .21        <.3    .44   .41   <- chosen
  char 7-grams, no spaces   .56  .58   .68    1.00    .14        <.2    .41   .32

Word shingles lose Korean re-spacing (띄어쓰기 varies freely: median J .44 / .33 on pairs that differ only in
spelling and spacing); spaceless character n-grams ignore it. Short n saturates on long English text (two
unrelated 2.3M-character documents share .52 of their 5-grams, above any usable threshold); long n loses the
edited Korean copies. 6-grams leave about .10 on both sides of THRESHOLD = 0.5.

Then the procedure (LSH candidates, then similarity >= THRESHOLD; counts from the bench; "short" = recall of
10% copies of Korean texts with 30-49 shingles; KJV FPs are parallel passages just under the threshold):

  variant                          KJV FP  court 10% R / P   petitions 10% R   short 30-49   SOTU candidates
  6-grams, 256 = 64x4, T .50       4       99.67 / 99.67     100.00            94.0          1305     <- chosen
  5-grams, 256 = 64x4, T .50       4       99.67 / 99.34     100.00            97.3          7272
  7-grams, 256 = 64x4, T .50       0       99.67 / 100.00    100.00            84.7          479
  6-grams, T .45                   12      99.67 / 99.67     100.00            96.7          1305
  6-grams, T .55                   0       99.67 / 99.67     100.00            83.0          1305
  6-grams, 128 = 32x4 permutations 8       98.67 / 99.33     99.67             91.0          557
  6-grams, 256 = 32x8 bands        0       71.33 / 100.00    76.00             64.3          223

256 permutations halve the estimator's variance against 128 (sd .031 at J = .5): fewer pairs near the threshold
flip. 64 bands of 4 rows make a pair at J = .5 a candidate with probability .984 (.9999 at .6); 32 x 8 misses
most 10% copies. Beyond the target, recall falls fast: Korean copies with 15% of words edited 94% (petitions)
/ 89% (court), 20% edited 22% / 14%; English 20% edited 94%.

MIN_SHINGLES = 10 (about 15 letters): 10% copies (at least one word) of short Korean texts are found at
24% (5-9 shingles), 44% (10-19), 80% (20-29), 94% (30-49), 99% (50-99), all with 100% precision; the pairs
these sizes flag among about 100k real comments, reviews and sentences (ko_news_comments_hate, ko_nsmc_reviews,
ko_klue_sentences) are respacings, one-word edits and templated comments.
Below 10 shingles a single edited syllable decides, so those texts are left to exact dedup.
"""

from __future__ import annotations

import functools
from collections.abc import Sequence

import numpy as np
import polars as pl

NGRAM = 6
SHINGLE_DESCRIPTION = (
    f"character {NGRAM}-grams of the lower-cased text after removing whitespace, punctuation and symbols "
    "(letters and digits of any script are kept; Hangul syllables count as one character)"
)
NUM_PERM = 256
BANDS = 64
ROWS = 4
THRESHOLD = 0.5
MIN_SHINGLES = 10
SEED = 1  # datasketch's default; changing it (or NUM_PERM, NGRAM) invalidates every stored signature.

assert BANDS * ROWS == NUM_PERM

_U64 = np.uint64
_POLY = _U64(0x9E3779B97F4A7C15)  # odd multiplier of the n-gram polynomial (wraps mod 2^64)
_POLY2 = _U64(int(_POLY) ** 2 % (1 << 64))
_BATCH_CHARS = 1 << 20  # code points hashed per batch: bounds memory at about 50 MB
_CHUNK = 1 << 13  # shingles per MinHash step: a (NUM_PERM, _CHUNK) uint32 buffer, 8 MB at 256 permutations
_SORT_MIN = 300  # texts with at least this many shingles are sorted to drop repeated ones (see `_distinct`)
_SHORT = 128  # texts with at most this many distinct shingles take `_minhash_short`
_GROUP = 2048  # texts per group in `_minhash_short`
_BUFSIZE = 256  # numpy's ufunc buffer while hashing: the default (8192) makes broadcasting rows under ~6000 slower
_EMPTY = np.uint32(0xFFFFFFFF)


def _fmix64(h: np.ndarray) -> np.ndarray:
    """MurmurHash3's 64-bit finalizer: a fixed bijection that spreads every input bit over the output.

    Works in place on `h` (a fresh array: saves four temporaries of the batch's size) and returns it."""
    for mult in (_U64(0xFF51AFD7ED558CCD), _U64(0xC4CEB9FE1A85EC53), None):
        h ^= h >> _U64(33)
        if mult is not None:
            h *= mult
    return h


def _fmix32(h: np.ndarray) -> np.ndarray:
    """MurmurHash3's 32-bit finalizer, the pre-mix datasketch's affine32 scheme applies to each input hash.

    Returns a new array (the caller's hashes are left alone)."""
    h = h ^ (h >> np.uint32(16))
    h *= np.uint32(0x85EBCA6B)
    h ^= h >> np.uint32(13)
    h *= np.uint32(0xC2B2AE35)
    h ^= h >> np.uint32(16)
    return h


@functools.cache
def _alnum() -> np.ndarray:
    """Lookup table over all code points: True for letters and digits of any script (``str.isalnum``).

    The same set as the regex ``[^\\W_]``; a table lets numpy filter whole batches at once (built once).
    """
    return np.array([chr(c).isalnum() for c in range(0x110000)], dtype=bool)


def _shingle_hashes(texts: Sequence[str], ngram: int) -> tuple[np.ndarray, np.ndarray]:
    """32-bit hashes of all character n-grams of all texts, concatenated, and the count per text.

    Shingles are taken from ``text.lower()`` with everything but letters and digits removed. A text of k
    letters and digits has max(k - ngram + 1, 0) n-grams (repeats included; they do not change a minimum).
    The hash is the polynomial sum(c[i+j] * P^(ngram-1-j)) mod 2^64 over code points, finalized with fmix64
    and cut to its top 32 bits: the same on every machine, and computed for all positions at once.
    """
    lowered = [t.lower() for t in texts]
    codes = np.frombuffer("".join(lowered).encode("utf-32-le"), dtype=np.uint32)
    kept = np.flatnonzero(_alnum()[codes])
    bounds = np.concatenate([[0], np.cumsum([len(t) for t in lowered], dtype=np.int64)])
    lengths = np.diff(np.searchsorted(kept, bounds))  # letters and digits per text
    counts = np.maximum(lengths - ngram + 1, 0)
    codes = codes[kept].astype(np.uint64)
    m = len(codes) - ngram + 1
    if m <= 0 or counts.sum() == 0:
        return np.zeros(0, dtype=np.uint32), counts
    # Horner's rule two code points per step (half the passes): pairs[i] = c[i] * P + c[i+1], steps of P^2.
    pairs = codes[:-1] * _POLY
    pairs += codes[1:]
    odd = ngram % 2
    h = codes[:m].copy() if odd else pairs[:m].copy()
    for j in range(2 - odd, ngram - 1, 2):
        h *= _POLY2
        h += pairs[j : j + m]
    # Drop the n-grams that start in one text and end in the next: the last ngram - 1 starts before each end.
    inside = np.ones(m, dtype=bool)
    crossing = (np.cumsum(lengths)[:, None] - np.arange(1, ngram)[None, :]).ravel()
    inside[crossing[(crossing >= 0) & (crossing < m)]] = False
    return (_fmix64(h[inside]) >> _U64(32)).astype(np.uint32), counts


def _permutations(num_perm: int) -> tuple[np.ndarray, np.ndarray]:
    """datasketch's affine32 permutations (a odd, b) for the fixed SEED, as (num_perm, 1) columns: the same draws
    as its `MinHash._init_permutations` (tests/text/test_near_dedup.py compares with datasketch itself), made here so
    the worker processes do not import datasketch and SciPy for two arrays."""
    gen = np.random.RandomState(SEED)
    a = gen.randint(0, 1 << 31, num_perm, dtype=np.uint32) * np.uint32(2) + np.uint32(1)
    b = gen.randint(0, 1 << 32, num_perm, dtype=np.uint32)
    return a.astype(np.uint32)[:, None], b.astype(np.uint32)[:, None]


def _distinct(hv: np.ndarray, sizes: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Consecutive runs of `sizes` hashes (each > 0) -> the same runs without repeated values, and their sizes.

    A repeat cannot change a minimum, and long texts repeat many of their 6-grams (a third of those of texts with
    over 1,000 shingles, half of those over 100,000), so sorting each long run in place (in `hv`, a scratch array)
    and dropping equal neighbours is cheaper than permuting the repeats 256 times. Short texts repeat few (under 6%),
    so they are not sorted and lose only adjacent repeats."""
    ends = np.cumsum(sizes)
    starts = ends - sizes
    long = sizes >= _SORT_MIN
    for lo, hi in zip(starts[long].tolist(), ends[long].tolist()):
        hv[lo:hi].sort()
    fresh = np.empty(len(hv), dtype=bool)
    np.not_equal(hv[1:], hv[:-1], out=fresh[1:])
    fresh[starts] = True
    return hv[fresh], np.add.reduceat(fresh, starts, dtype=np.int64)


def _minhash(hashes: np.ndarray, counts: np.ndarray, num_perm: int) -> np.ndarray:
    """Row i = min over text i's shingles of (a * fmix32(h) + b) mod 2^32, per permutation (datasketch affine32).

    Repeats are dropped first (`_distinct`). Short and long texts are then reduced in different layouts: a reduceat
    over a run has a fixed cost per permutation whatever its length, more than all the arithmetic of a short
    text. Texts without shingles keep the empty value 2^32 - 1.
    """
    a, b = _permutations(num_perm)
    out = np.full((len(counts), num_perm), _EMPTY, dtype=np.uint32)
    has = np.flatnonzero(counts)
    if not len(has):
        return out
    hv, sizes = _distinct(_fmix32(hashes), counts[has])
    short = sizes <= _SHORT
    in_short = np.repeat(short, sizes)
    old = np.setbufsize(_BUFSIZE)
    try:
        _minhash_short(hv[in_short], sizes[short], a, b, out, has[short])
        _minhash_long(hv[~in_short], sizes[~short], a, b, out, has[~short])
    finally:
        np.setbufsize(old)
    return out


def _minhash_long(hv: np.ndarray, sizes: np.ndarray, a: np.ndarray, b: np.ndarray, out: np.ndarray,
                  rows: np.ndarray) -> None:
    """out[rows] = minima of the consecutive runs of `sizes` hashes in `hv`: (num_perm, chunk) blocks of a * h + b
    in a reused buffer, one reduceat per block; a text continued from the previous block is merged into its result."""
    if not len(sizes):
        return
    result = np.empty((len(a), len(sizes)), dtype=np.uint32)  # permutation-major, like the blocks
    starts = np.cumsum(sizes) - sizes
    buf = np.empty((len(a), min(_CHUNK, len(hv))), dtype=np.uint32)
    los = np.arange(0, len(hv), _CHUNK)
    firsts = np.searchsorted(starts, los, side="right") - 1  # text holding each block's first shingle
    stops = np.searchsorted(starts, los + _CHUNK, side="left")  # texts starting before each block's end
    for lo, first, stop in zip(los.tolist(), firsts.tolist(), stops.tolist()):
        block = buf[:, : min(_CHUNK, len(hv) - lo)]
        np.multiply(a, hv[None, lo : lo + block.shape[1]], out=block)
        block += b
        cuts = starts[first:stop] - lo
        continued = cuts[0] < 0  # text `first` began in an earlier block
        if continued:
            cuts[0] = 0
            before = result[:, first].copy()
        np.minimum.reduceat(block, cuts, axis=1, out=result[:, first:stop])
        if continued:
            np.minimum(result[:, first], before, out=result[:, first])
    out[rows] = result.T


def _minhash_short(hv: np.ndarray, sizes: np.ndarray, a: np.ndarray, b: np.ndarray, out: np.ndarray,
                   rows: np.ndarray) -> None:
    """`_minhash_long` for short runs, without a reduceat: texts sorted by size, longest first, in groups of
    _GROUP; step k takes the k-th hash of every text of the group that has one (a prefix of the group) and lowers
    the group's (num_perm, group) minima with it, so every operation runs along a row of texts."""
    order = np.argsort(-sizes, kind="stable")
    starts = (np.cumsum(sizes) - sizes)[order]
    sizes = sizes[order]
    acc = np.empty((len(a), min(_GROUP, len(sizes))), dtype=np.uint32)
    step = np.empty_like(acc)
    for lo in range(0, len(sizes), _GROUP):
        first, size = starts[lo : lo + _GROUP], sizes[lo : lo + _GROUP]
        group = acc[:, : len(size)]
        np.multiply(a, hv[first][None, :], out=group)
        group += b
        widths = np.searchsorted(-size, -np.arange(1, size[0]), side="left")  # texts with more than k hashes
        for k, n in enumerate(widths.tolist(), 1):
            np.multiply(a, hv[first[:n] + k][None, :], out=step[:, :n])
            step[:, :n] += b
            np.minimum(group[:, :n], step[:, :n], out=group[:, :n])
        out[rows[order[lo : lo + len(size)]]] = group.T


def _signatures(texts: Sequence[str], ngram: int, num_perm: int, min_shingles: int) -> tuple[np.ndarray, np.ndarray]:
    """`signatures` with explicit parameters (the evaluation script compares alternatives with it)."""
    sigs = np.empty((len(texts), num_perm), dtype=np.uint32)
    eligible = np.zeros(len(texts), dtype=bool)
    lo = 0
    while lo < len(texts):
        hi, size = lo, 0
        while hi < len(texts) and (hi == lo or size + len(texts[hi]) <= _BATCH_CHARS):
            size += len(texts[hi])
            hi += 1
        hashes, counts = _shingle_hashes(texts[lo:hi], ngram)
        sigs[lo:hi] = _minhash(hashes, counts, num_perm)
        eligible[lo:hi] = counts >= min_shingles
        lo = hi
    return sigs, eligible


def signatures(texts: Sequence[str]) -> tuple[np.ndarray, np.ndarray]:
    """MinHash signatures, an (n, NUM_PERM) uint32 matrix, and the (n,) bool mask `eligible`.

    `eligible` is False for documents with fewer than MIN_SHINGLES shingles (fewer than NGRAM + 9 letters and
    digits): on so few shingles a single edited syllable decides the Jaccard, so these documents are too short
    for MinHash. They are left to exact dedup (a content hash) and must not be put in the LSH index. Their rows
    still hold a real signature, but documents without a single shingle all hold the same empty value
    (2^32 - 1 everywhere), which would make them "duplicates" of one another if they were indexed.

    Memory: about 50 bytes per character of the largest batch (texts are hashed in batches of about 1M
    characters; a single longer text is hashed in one piece).
    """
    return _signatures(texts, NGRAM, NUM_PERM, MIN_SHINGLES)


# Storage: a signature is NUM_PERM uint32 = 1 KiB per document. Store it as a BLOB, `sig.astype("<u4").tobytes()`,
# and read it back with `np.frombuffer(blob, dtype="<u4")`. The LSH index is BANDS rows (band, key, document) per
# eligible document; candidates are an equality join on (band, key), verified with `similarity`.


def _band_keys(sigs: np.ndarray, bands: int) -> np.ndarray:
    rows = sigs.shape[1] // bands
    values = np.ascontiguousarray(sigs[:, : bands * rows], dtype=np.uint32).reshape(len(sigs), bands, rows)
    key = np.broadcast_to(_fmix64(np.arange(1, bands + 1, dtype=np.uint64)), (len(sigs), bands)).copy()
    for r in range(rows):
        key ^= values[:, :, r]
        _fmix64(key)
        key += _POLY
    return key.view(np.int64)


def band_keys(sigs: np.ndarray) -> np.ndarray:
    """(n, BANDS) int64 LSH bucket keys: band j's key hashes its ROWS signature values together with j.

    Mixing in the band index lets one table (band, key) -> document serve all bands; equal keys in the same
    band mean equal band values (up to 64-bit collisions). Pure integer arithmetic, so stable across runs.
    """
    return _band_keys(sigs, BANDS)


def similarity(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Row-wise estimated Jaccard: the fraction of equal entries of two (m, NUM_PERM) signature matrices."""
    return (np.asarray(a) == np.asarray(b)).mean(axis=1)


INDEX_SCHEMA = {"content_hash": pl.String, "signature": pl.Array(pl.UInt32, NUM_PERM),
                "bands": pl.Array(pl.Int64, BANDS)}
"""Rows of the near-duplicate index: one per distinct kept text eligible for MinHash."""


def index_frame(hashes: list[str] | pl.Series, sigs: np.ndarray) -> pl.DataFrame:
    """Near-duplicate index rows (texts eligible for MinHash only): content hash, signature, LSH band keys."""
    return pl.DataFrame(
        {"content_hash": hashes, "signature": sigs.astype(np.uint32, casting="safe"),
         "bands": band_keys(sigs).astype(np.int64)},
        schema=INDEX_SCHEMA,
    )

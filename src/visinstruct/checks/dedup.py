"""Duplicates: the same question asked twice of one image, whole samples copied onto other
images, and near-identical images.

Text near-duplicates are found with MinHash over character shingles of the normalised
text and banded LSH, every candidate verified on its signature.

* `normalise` casefolds (after NFKC, so full-width forms become ASCII), turns punctuation
  into spaces (apostrophes and zero-width characters are dropped; ``% * /`` are kept, so
  ``5*3`` and ``5/3`` stay apart), collapses whitespace and removes spaces next to CJK
  characters (``2013 年`` = ``2013年``). CJK characters and digits are kept.
* Shingles are character n-grams, not word n-grams: questions are short (6–25 words), and
  one changed word in a 10-word question changes 3 of its 8 word trigrams (Jaccard about
  0.45), far below any useful threshold, while a typo changes a whole word. Runs of
  alphabetic (space-separated) text give n-grams of sizes ``shingle - 1`` and ``shingle``
  (2 and 3 by default), spaces included so word boundaries count. A CJK character carries
  about as much as a short word, so runs of CJK characters give n-grams one size smaller
  (1 and 2 by default): one changed character in a Chinese question then moves the
  Jaccard about as much as one changed word in an English one. `shingles` lists a
  text's shingles. The price of character shingles is order-insensitivity at the scale of
  a word ("more squares than stars" looks like "more stars than squares"), and that one
  changed word in a short question (under ~8 words) drops the Jaccard below 0.85.
* Numbers must match (``numbers_must_match``, default on): the multiset of digit runs of a
  text is folded into every shingle, so "What was the revenue in 2010?" and "... in 2011?"
  over the same chart never match, whatever their Jaccard.
* MinHash signatures come from rensa (`RMinHash`; `RMinHashLSH` indexes whole samples in
  `Deduper`); when rensa is not importable, a numpy MinHash and banded index take their
  place. The two hash differently, so their signatures differ, but both estimate the same
  Jaccard similarity and make the same decisions up to MinHash noise (with 64
  permutations the estimate has a standard deviation of about 0.045 at Jaccard 0.85: more
  permutations, tighter decisions).
* Verification keeps only the low bits of each signature value (8 in `Deduper`, 4 in
  `dedup_texts`), corrected for their chance agreement, never the texts themselves.

`Deduper` checks samples one by one in dataset order; `dedup_texts` is the bulk form over
plain texts (it sorts probe keys instead of probing an index, and can sketch on several
processes). `ImageDeduper` finds near-identical images by perceptual hash; `semantic.py`
finds near-duplicates by image embedding.
"""

from __future__ import annotations

import array
import math
import multiprocessing
import os
import unicodedata
from collections import deque
from collections.abc import Iterable, Iterator, Sequence
from concurrent.futures import Future
from functools import lru_cache
from itertools import chain, islice, pairwise
from typing import Any

import numpy as np

from visinstruct.checks.results import REJECT, REVIEW, failed, passed
from visinstruct.executors.local import make_pool
from visinstruct.records import Sample

try:  # the Rust MinHash; the numpy fallback below gives the same decisions without it
    import rensa
except ImportError:  # pragma: no cover - exercised by forcing the fallback in tests
    rensa = None

SEED = 0x5EED
_SEP = "\uffff"  # a noncharacter: joins texts for batch normalisation, never survives it

# character classes of the normalisation table
_OTHER, _SPACE, _DROP, _CJK, _DIGIT, _BOUND = range(6)
_KEEP_PUNCT = "%*/"
_APOSTROPHES = "'\u2019\u02bc"
_CJK_RANGES = (
    (0x2E80, 0x2FDF),  # radicals
    (0x3005, 0x3007),  # 々 〆 〇
    (0x3040, 0x30FF),  # kana
    (0x31F0, 0x31FF),
    (0x3400, 0x4DBF),
    (0x4E00, 0x9FFF),
    (0xF900, 0xFAFF),
    (0xFF66, 0xFF9F),  # half-width kana
)

_U64 = np.uint64
_M1, _M2, _GOLD = _U64(0xBF58476D1CE4E5B9), _U64(0x94D049BB133111EB), _U64(0x9E3779B97F4A7C15)
_S30, _S27, _S31, _S32 = _U64(30), _U64(27), _U64(31), _U64(32)
_BASE = _U64(0x100000001B3)


@lru_cache(maxsize=1)
def _class_table() -> np.ndarray:
    """Class of every BMP code point (characters above it: CJK extension planes or other)."""
    table = np.zeros(0x10000, np.uint8)
    for c in range(0x10000):
        ch = chr(c)
        cat = unicodedata.category(ch)
        if ch in _APOSTROPHES or cat in ("Cf", "Cs", "Co") or (cat == "Cc" and not ch.isspace()):
            table[c] = _DROP
        elif ch.isspace() or (cat[0] == "P" and ch not in _KEEP_PUNCT):
            table[c] = _SPACE
        elif cat == "Nd":
            table[c] = _DIGIT
        elif any(lo <= c <= hi for lo, hi in _CJK_RANGES):
            table[c] = _CJK
    table[ord(_SEP)] = _BOUND
    return table


def _mix(x: np.ndarray) -> np.ndarray:
    """splitmix64 finaliser, elementwise on uint64 (wrapping arithmetic)."""
    x = x ^ (x >> _S30)
    x = x * _M1
    x ^= x >> _S27
    x *= _M2
    x ^= x >> _S31
    return x


def _fold(t: str) -> str:
    """NFKC, then casefold (for plain ASCII, already in NFKC, lower() does both)."""
    if _SEP in t:
        t = t.replace(_SEP, "")
    return unicodedata.normalize("NFKC", t).casefold()


def _normalised_codes(texts: Sequence[str]) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Normalise many texts at once: (code points, their classes, start and end of each text).

    NFKC and casefolding run per text in C; the texts are then joined by a boundary
    character, encoded once, and the rest is vectorised over the code points.
    """
    s = _SEP.join([t.lower() if t.isascii() else _fold(t) for t in texts])
    cp = np.frombuffer(s.encode("utf-32-le", "surrogatepass"), dtype=np.uint32)
    cls = np.take(_class_table(), cp, mode="clip")
    if not s.isascii():
        astral = cp > 0xFFFF
        if astral.any():
            hi = cp[astral]
            cls[astral] = np.where((hi >= 0x20000) & (hi < 0x40000), _CJK, _OTHER)
    keep = cls != _DROP
    if not keep.all():
        cp, cls = cp[keep], cls[keep]
    # A space goes after a space, a boundary, the start or a CJK character (so runs
    # collapse to their first space), and before a boundary, the end or a CJK character.
    n = len(cls)
    sp = cls == _SPACE
    prev = np.empty_like(cls)
    prev[:1] = _BOUND
    prev[1:] = cls[:-1]
    drop = sp & ((prev == _SPACE) | (prev == _BOUND) | (prev == _CJK))
    nxt = np.empty_like(cls)
    nxt[-1:] = _BOUND
    nxt[:-1] = cls[1:]
    drop |= sp & ((nxt == _BOUND) | (nxt == _CJK))
    runs = np.flatnonzero(sp & ~drop & (nxt == _SPACE))  # first spaces of longer runs: look past them
    if len(runs):
        j = runs + 1
        while True:
            more = (j < n) & (cls[np.minimum(j, n - 1)] == _SPACE)
            if not more.any():
                break
            j[more] += 1
        after = np.where(j < n, cls[np.minimum(j, n - 1)], _BOUND)
        drop[runs] = (after == _BOUND) | (after == _CJK)
    cp = np.where(sp, np.uint32(0x20), cp)
    if drop.any():
        keep = ~drop
        cp, cls = cp[keep], cls[keep]
    bounds = np.flatnonzero(cls == _BOUND)
    starts = np.concatenate(([0], bounds + 1))
    ends = np.concatenate((bounds, [len(cp)]))
    return cp, cls, starts, ends


def normalise(text: str) -> str:
    """Casefold (after NFKC), strip punctuation, collapse whitespace; CJK and digits kept."""
    cp, _, _, _ = _normalised_codes([text])
    return cp.astype(np.uint32).tobytes().decode("utf-32-le", "surrogatepass")


def _sizes(shingle: int) -> tuple[tuple[int, ...], tuple[int, ...]]:
    """Character n-gram sizes of (alphabetic, CJK) runs: (shingle-1, shingle) and one less."""
    alpha = tuple(sorted({max(1, shingle - 1), max(1, shingle)}))
    cjk = tuple(sorted({max(1, shingle - 2), max(1, shingle - 1)}))
    return alpha, cjk


def _shingle_hashes(
    cp: np.ndarray,
    cls: np.ndarray,
    starts: np.ndarray,
    shingle: int,
    numbers: bool,
) -> tuple[np.ndarray, np.ndarray]:
    """64-bit hashes of every text's shingles, back to back, and the n+1 row offsets.

    At each position start at most two shingles, the smaller and the larger n-gram of its
    run's script (or, at the start of a run shorter than the smaller size, the whole run),
    so two columns per position hold them all. A k-gram's hash is the polynomial hash of
    its code points (sizes cannot collide: the leading term of a longer one is a power of
    the base above any code point).
    """
    n_pos = len(cp)
    cjk = cls == _CJK
    alpha = (cls != _BOUND) & ~cjk
    v = cp.astype(np.uint64)
    v += _U64(1)
    (a_lo, a_hi), (c_lo, c_hi) = ((*x, x[-1]) if len(x) == 1 else x for x in _sizes(shingle))

    def runs_of(mask: np.ndarray, k: int) -> np.ndarray:
        """Positions starting k consecutive positions of the mask."""
        ok = mask.copy()
        for j in range(1, k):
            ok[:-j] &= mask[j:]
            ok[-j:] = False
        return ok

    # windows[k-1]: polynomial hash of the k code points from each position; the two
    # alphabetic sizes are built straight into the two columns
    both = np.zeros((n_pos, 2), np.uint64)
    into = {a_lo: both[:, 0]}
    if a_hi > a_lo:
        into[a_hi] = both[:, 1]
    windows = [v]
    for k in range(2, a_hi + 1):
        h = np.multiply(windows[-1], _BASE, out=into.get(k))
        h[: -(k - 1)] += v[k - 1 :]
        windows.append(h)
    if a_lo == 1:
        both[:, 0] = v
    ok0 = runs_of(alpha, a_lo)
    ok1 = runs_of(alpha, a_hi) if a_hi > a_lo else np.zeros(n_pos, bool)
    if cjk.any():  # CJK positions take the CJK sizes (the larger first: it may read column 0)
        if c_hi > c_lo:
            ok = runs_of(cjk, c_hi)
            if c_hi != a_hi:
                np.copyto(both[:, 1], windows[c_hi - 1], where=ok)
            ok1 |= ok
        ok = runs_of(cjk, c_lo)
        if c_lo != a_lo:
            np.copyto(both[:, 0], windows[c_lo - 1], where=ok)
        ok0 |= ok
    for mask, k_min in ((alpha, a_lo), (cjk, c_lo)):
        if k_min > 1 and mask.any():  # runs shorter than the smaller size: the whole run
            first = mask.copy()
            first[1:] &= ~mask[:-1]
            for k in range(1, k_min):
                short = first & runs_of(mask, k) & ~runs_of(mask, k + 1)
                np.copyto(both[:, 0], windows[k - 1], where=short)
                ok0 |= short
    salt = _number_salt(v, cls, len(starts)) if numbers else None
    if salt is not None:
        both ^= salt[:, None]
    flat = both[np.stack((ok0, ok1), axis=1)]
    per_pos = ok0.view(np.int8) + ok1.view(np.int8)
    flat *= _GOLD  # rensa's permutations read the high bits: make them depend on all bits
    if starts[-1] < n_pos:
        per_text = np.add.reduceat(per_pos, starts, dtype=np.int64)
    else:  # the last text is empty
        per_text = np.add.reduceat(np.append(per_pos, 0), starts, dtype=np.int64)
    offsets = np.zeros(len(starts) + 1, np.int64)
    np.cumsum(per_text, out=offsets[1:])
    return flat, offsets.astype(np.uint64)


_POW = np.array([pow(int(_BASE), i, 1 << 64) for i in range(64)], dtype=np.uint64)  # BASE**i mod 2**64


def _is_cjk_char(ch: str) -> bool:
    c = ord(ch)
    return 0x20000 <= c < 0x40000 if c > 0xFFFF else _class_table()[c] == _CJK


def shingles(text: str, shingle: int = 3, numbers_must_match: bool = True) -> set[str]:
    """The shingle set of a text, as strings: what the MinHash signatures estimate Jaccard
    similarity over (plain Python, for reading and for comparing with other tools).

    With ``numbers_must_match`` every shingle is prefixed with the text's sorted digit runs,
    so texts with different numbers share no shingle.
    """
    norm = normalise(text)
    runs: list[tuple[bool, str]] = []  # (is CJK, run), in order
    for ch in norm:
        c = _is_cjk_char(ch)
        if runs and runs[-1][0] == c:
            runs[-1] = (c, runs[-1][1] + ch)
        else:
            runs.append((c, ch))
    out: set[str] = set()
    alpha_sizes, cjk_sizes = _sizes(shingle)
    for c, run in runs:
        sizes = cjk_sizes if c else alpha_sizes
        if len(run) < min(sizes):
            out.add(run)
        for k in sizes:
            out.update(run[i : i + k] for i in range(len(run) - k + 1))
    if numbers_must_match:
        digits = "".join(ch if unicodedata.category(ch) == "Nd" else " " for ch in norm).split()
        prefix = ",".join(sorted(digits)) + "\x1f"
        out = {prefix + x for x in out}
    return out


def _number_salt(v: np.ndarray, cls: np.ndarray, n_texts: int) -> np.ndarray | None:
    """Per position: a hash of the multiset of digit runs of its text (0 for a text without
    digits); None when there are no digits at all."""
    digits = np.flatnonzero(cls == _DIGIT)
    if len(digits) == 0:
        return None
    bounds = np.flatnonzero(cls == _BOUND)
    new = np.empty(len(digits), bool)
    new[0] = True
    new[1:] = digits[1:] != digits[:-1] + 1
    run_starts = np.flatnonzero(new)
    run_id = np.cumsum(new) - 1
    pos_in_run = digits - digits[run_starts][run_id]
    terms = v[digits] * _POW[np.minimum(pos_in_run, 63)]
    runs = _mix(np.add.reduceat(terms, run_starts) ^ _GOLD)
    per_text = np.zeros(n_texts, np.uint64)
    np.add.at(per_text, np.searchsorted(bounds, digits[run_starts]), runs)
    return np.repeat(per_text, np.diff(np.concatenate(([-1], bounds, [len(cls) - 1]))))


# -- MinHash backends -------------------------------------------------------------------------


class _RensaBackend:
    """rensa's RMinHash: bulk digests from pre-hashed shingles; objects for its LSH index."""

    name = "rensa"

    def __init__(self, num_perm: int, seed: int = SEED) -> None:
        self.num_perm, self.seed = num_perm, seed

    def rows(self, flat: np.ndarray, offsets: np.ndarray) -> np.ndarray:
        n = len(offsets) - 1
        if n == 0:
            return np.zeros((0, self.num_perm), np.uint32)
        m = rensa.RMinHash.digest_matrix_from_flat_token_hashes(flat, offsets, self.num_perm, self.seed)
        # to_rows is the only way out of the matrix; array.array reads the ints fastest
        values = array.array("I", chain.from_iterable(m.to_rows()))
        return np.frombuffer(values, dtype=np.uint32).reshape(n, self.num_perm)

    def sketch(self, tokens: np.ndarray) -> tuple[Any, np.ndarray]:
        """One text's MinHash object (what `RMinHashLSH` indexes) and its signature. Its
        tokens are the 8 bytes of each shingle hash (numpy drops trailing zero bytes, which
        keeps distinct hashes distinct)."""
        m = rensa.RMinHash(self.num_perm, self.seed)
        m.update(tokens.view("S8").tolist())
        return m, np.array(m.digest(), dtype=np.uint32)

    def index(self, threshold: float, bands: int) -> Any:
        return rensa.RMinHashLSH(threshold, self.num_perm, bands)


class _NumpyBackend:
    """The same MinHash in numpy: per permutation, a seeded multiply-xorshift-multiply hash
    of every shingle hash, and its minimum per text."""

    name = "numpy"

    def __init__(self, num_perm: int, seed: int = SEED) -> None:
        self.num_perm = num_perm
        rng = np.random.default_rng(seed)
        self._a = rng.integers(1, 2**63, num_perm, dtype=np.uint64) * _U64(2) + _U64(1)
        self._b = rng.integers(0, 2**63, num_perm, dtype=np.uint64)

    def rows(self, flat: np.ndarray, offsets: np.ndarray) -> np.ndarray:
        offsets = offsets.astype(np.int64)
        n = len(offsets) - 1
        out = np.full((n, self.num_perm), 0xFFFFFFFF, np.uint32)
        filled = offsets[1:] > offsets[:-1]
        if not filled.any():
            return out
        at = offsets[:-1][filled]
        for k in range(self.num_perm):
            h = flat * self._a[k]
            h += self._b[k]
            h ^= h >> _S32
            h *= _M2
            out[filled, k] = np.minimum.reduceat((h >> _S32).astype(np.uint32), at)
        return out

    def index(self, threshold: float, bands: int) -> Any:
        return _BandIndex(self.num_perm, bands)


class _BandIndex:
    """A banded LSH index over signature rows (the fallback for rensa's RMinHashLSH)."""

    def __init__(self, num_perm: int, bands: int) -> None:
        self.bands, self.r = bands, num_perm // bands
        self._buckets: dict[int, list[int]] = {}

    def _keys(self, row: np.ndarray) -> Iterator[int]:
        for b in range(self.bands):
            yield hash((b, row[b * self.r : (b + 1) * self.r].tobytes()))

    def insert(self, key: int, row: np.ndarray) -> None:
        for k in self._keys(row):
            self._buckets.setdefault(k, []).append(key)

    def query(self, row: np.ndarray) -> list[int]:
        found: set[int] = set()
        for k in self._keys(row):
            found.update(self._buckets.get(k, ()))
        return sorted(found)


def _backend(num_perm: int, prefer: str | None = None) -> _RensaBackend | _NumpyBackend:
    if prefer == "numpy" or (prefer is None and rensa is None):
        return _NumpyBackend(num_perm)
    if rensa is None:
        raise RuntimeError("rensa is not installed")
    return _RensaBackend(num_perm)


# -- shared helpers ---------------------------------------------------------------------------


def _check_params(threshold: float, num_perm: int, shingle: int, bands: int | None) -> int:
    if not 0 < threshold <= 1:
        raise ValueError(f"threshold {threshold} is not in (0, 1]")
    if num_perm < 1 or shingle < 1:
        raise ValueError("num_perm and shingle must be positive")
    bands = bands or max(1, num_perm // 4)
    if num_perm % bands:
        raise ValueError(f"num_perm {num_perm} is not a multiple of bands {bands}")
    return bands


def _min_agree(threshold: float, num_perm: int, bits: int = 8) -> int:
    """Agreeing `bits`-bit signature values needed for an estimated Jaccard ≥ threshold
    (two different minima agree in their low bits by chance, 1 time in 2**bits)."""
    chance = 2.0**-bits
    return math.ceil(num_perm * (threshold * (1 - chance) + chance) - 1e-9)


def _estimate(agree: int | np.ndarray, num_perm: int, bits: int = 8) -> Any:
    chance = 2.0**-bits
    return np.maximum(0.0, (np.asarray(agree) / num_perm - chance) / (1 - chance))


_NIBBLE_LOW = np.uint64(0x1111111111111111)


def _nibbles(rows: np.ndarray) -> np.ndarray:
    """The low 4 bits of every signature value, 16 to a uint64 word (padded with zeros)."""
    n, num_perm = rows.shape
    words = -(-num_perm // 16)
    low = np.zeros((n, words * 16), np.uint8)
    low[:, :num_perm] = rows & 0xF
    return np.ascontiguousarray(low[:, 0::2] | (low[:, 1::2] << 4)).view(np.uint64)


def _band_keys(rows: np.ndarray, bands: int) -> np.ndarray:
    """One 64-bit key per band (n × bands) from the signature rows (n × num_perm)."""
    n, num_perm = rows.shape
    r = num_perm // bands
    grid = rows.reshape(n, bands, r)
    acc = np.broadcast_to(np.arange(1, bands + 1, dtype=np.uint64), (n, bands)).copy()
    for j in range(r):
        acc *= _GOLD
        acc += grid[:, :, j]
    return _mix(acc)


def _probe_keys(rows: np.ndarray, bands: int) -> np.ndarray:
    """The keys texts are grouped by ((bands + 1) × n, 32 bits each).

    First the whole signature (exact duplicates), then each band joined with the next:
    bands of twice the rows, each overlapping the next by half. With 64 permutations that
    is 16 bands of 8 rows: a pair at Jaccard 0.85 shares one with probability ≈ 0.99, at
    0.5 with ≈ 0.06, so groups of merely similar templated texts stay small and comparing
    each text with the first and the previous member of its groups finds its matches.
    """
    keys = _band_keys(rows, bands)
    n = len(rows)
    out = np.empty((bands + 1, n), np.uint32)
    whole = np.zeros(n, np.uint64)
    for b in range(bands):
        whole *= _GOLD
        whole += keys[:, b]
    out[0] = _mix(whole) >> _S32
    for b in range(bands):
        joined = keys[:, b] if bands == 1 else keys[:, b] * _GOLD + keys[:, (b + 1) % bands]
        out[b + 1] = _mix(joined) >> _S32
    return out


def _sketch_chunk(
    texts: list[str], num_perm: int, shingle: int, bands: int, numbers: bool, backend: str
) -> tuple[np.ndarray, np.ndarray]:
    """Probe keys ((bands + 1) × n, uint32) and 4-bit signatures (n × num_perm / 16, uint64)."""
    cp, cls, starts, _ = _normalised_codes(texts)
    flat, offsets = _shingle_hashes(cp, cls, starts, shingle, numbers)
    rows = _backend(num_perm, backend).rows(flat, offsets)
    return _probe_keys(rows, bands), _nibbles(rows)


def _chunks(texts: Iterable[str], size: int) -> Iterator[list[str]]:
    it = iter(texts)
    while chunk := list(islice(it, size)):
        yield chunk


def _sketch_all(texts: Iterable[str], args: tuple, workers: int, chunk_size: int, pool: Any) -> tuple:
    """(probe keys, signatures) of all texts, in order; chunks go to the pool when given."""
    keys: list[np.ndarray] = []
    sigs: list[np.ndarray] = []
    if pool is None:
        for chunk in _chunks(texts, chunk_size):
            k, s = _sketch_chunk(chunk, *args)
            keys.append(k)
            sigs.append(s)
    else:
        pending: deque[Future] = deque()
        for chunk in _chunks(texts, chunk_size):
            pending.append(pool.submit(_sketch_chunk, chunk, *args))
            while len(pending) > 2 * workers or (pending and pending[0].done()):
                k, s = pending.popleft().result()  # in order; at most 2 × workers chunks in flight
                keys.append(k)
                sigs.append(s)
        for f in pending:
            k, s = f.result()
            keys.append(k)
            sigs.append(s)
    if not keys:
        return None, None
    all_sigs = np.concatenate(sigs)
    sigs.clear()  # the parts go as soon as they are joined: memory peaks lower
    all_keys = np.concatenate(keys, axis=1)
    keys.clear()
    return all_keys, all_sigs


def dedup_texts(
    texts: Iterable[str],
    threshold: float = 0.85,
    num_perm: int = 64,
    shingle: int = 3,
    *,
    bands: int | None = None,
    numbers_must_match: bool = True,
    workers: int = 1,
    chunk_size: int = 8192,
    backend: str | None = None,
) -> list[int | None]:
    """For each text, the index of an earlier near-duplicate, or None.

    Texts are read in chunks and sketched; only 32-bit probe keys and 4-bit signatures are
    kept, 100 bytes a text at 64 permutations (4 bits agree by chance 1 time in 16, which
    the verification corrects for, at the cost of ~4% more estimation noise than full
    values). Then, probe by probe (`_probe_keys`), texts are grouped by key (one sort of
    ``key << 32 | index``) and each text not yet matched is verified against the first and
    the previous member of its group; the first verified match is its answer.

    ``bands`` (default ``num_perm // 4``) cuts the signature into bands; texts are grouped
    by each pair of neighbouring bands (`_probe_keys`). ``workers > 1`` sketches chunks on
    that many processes and splits the probes between them (the answer is the same). They
    are started with ``spawn`` (rensa's threads do not survive ``fork``), so the calling
    script needs the usual ``if __name__ == "__main__":`` guard.
    """
    bands = _check_params(threshold, num_perm, shingle, bands)
    kind = _backend(num_perm, backend).name
    args = (num_perm, shingle, bands, numbers_must_match, kind)
    # padding nibbles always agree
    need = _min_agree(threshold, num_perm, bits=4) + (-num_perm % 16)
    if workers <= 1:
        keys, sigs = _sketch_all(texts, args, 1, chunk_size, None)
        best = None if keys is None else _resolve(keys, sigs, need, range(len(keys)), range(len(keys)))[0]
    else:
        ctx = multiprocessing.get_context("spawn")  # rensa's thread pool may be running here
        with make_pool(workers, ctx) as pool:
            keys, sigs = _sketch_all(texts, args, workers, chunk_size, pool)
            best = None if keys is None else _resolve_split(keys, sigs, need, workers, pool)
    if best is None:
        return []
    n = len(best)
    return [None if b == n else b for b in best.tolist()]


def _resolve_split(keys: np.ndarray, sigs: np.ndarray, need: int, workers: int, pool: Any) -> np.ndarray:
    """`_resolve` with the probes shared out: one share here, the others on the pool. Each
    text keeps the match of the lowest probe, as one process going through them in order
    would (so the answer does not depend on `workers`)."""
    shares = [list(range(k, len(keys), workers)) for k in range(workers)]
    futures = [pool.submit(_resolve, keys[sh], sigs, need, range(len(sh)), sh) for sh in shares[1:]]
    best, found = _resolve(keys, sigs, need, shares[0], shares[0])
    for f in futures:
        other, at = f.result()
        np.copyto(best, other, where=at < found)
        np.minimum(found, at, out=found)
    return best


def _agree_counts(sigs: np.ndarray, i: np.ndarray, j: np.ndarray) -> np.ndarray:
    """Agreeing values of the 4-bit signatures of the pairs (i, j): XOR, one bit per
    differing nibble, popcount."""
    x = sigs[i]
    x ^= sigs[j]
    x |= x >> np.uint64(2)
    x |= x >> np.uint64(1)
    x &= _NIBBLE_LOW
    return sigs.shape[1] * 16 - np.bitwise_count(x).sum(axis=1, dtype=np.int64)


def _agree(sigs: np.ndarray, i: np.ndarray, j: np.ndarray, need: int, block: int = 32768) -> tuple:
    """The pairs (i, j) whose 4-bit signatures agree in at least `need` values.

    Pairs are sorted by i first (one sort of ``i << 32 | j``), so reading the signatures
    walks memory forwards, and compared in blocks that stay in cache.
    """
    packed = i.astype(np.uint64) << _S32
    packed |= j.astype(np.uint64)
    packed.sort()
    i = (packed >> _S32).astype(np.int64)
    j = (packed & np.uint64(0xFFFFFFFF)).astype(np.int64)
    ok = np.empty(len(i), bool)
    for s in range(0, len(i), block):
        ok[s : s + block] = _agree_counts(sigs, i[s : s + block], j[s : s + block]) >= need
    return i[ok], j[ok]


def _resolve(
    keys: np.ndarray, sigs: np.ndarray, need: int, probes: Sequence[int], labels: Sequence[int]
) -> tuple:
    """For every text, its first verified earlier match (n when none) and the label of the
    probe that found it (2**31 - 1 when none), over the given rows of `keys`. Probes go in order,
    and a text matched by one is not looked at again; within a probe the group's first
    member is tried before the previous one."""
    n = keys.shape[1]
    best = np.full(n, n, np.int64)
    found = np.full(n, 2**31 - 1, np.int32)
    index = np.arange(n, dtype=np.uint64)
    low = np.uint64(0xFFFFFFFF)
    positions = np.arange(n)
    for p, label in zip(probes, labels, strict=True):
        packed = keys[p].astype(np.uint64)
        packed <<= _S32
        packed |= index
        packed.sort()  # by key, then by index within a key
        order = (packed & low).astype(np.int64)
        packed >>= _S32
        later = np.empty(n, bool)
        later[0] = False
        np.equal(packed[1:], packed[:-1], out=later[1:])
        if not later.any():
            continue
        first = np.maximum.accumulate(np.where(later, 0, positions))
        rows = order[later]
        heads = order[first[later]]
        prevs = order[:-1][later[1:]]
        for cand in (heads, prevs):
            sel = best[rows] == n  # not matched yet (by this probe's first member, or before)
            if cand is prevs:
                sel &= prevs != heads
            i, j = _agree(sigs, rows[sel], cand[sel], need)
            best[i] = j
            found[i] = label
    return best, found


# -- samples ----------------------------------------------------------------------------------


class _ImageQuestions:
    __slots__ = ("sigs", "owners")

    def __init__(self) -> None:
        self.sigs = bytearray()  # 8-bit question signatures of the image's kept samples
        self.owners: list[int] = []  # their kept numbers


class _Sketch:
    """What `Deduper` needs of one sample, computed in batches."""

    __slots__ = ("exact", "question", "whole", "long")

    def __init__(self, exact: bytes, question: np.ndarray, whole: np.ndarray, long: bool) -> None:
        self.exact = exact  # normalised question (its UTF-32 bytes)
        self.question = question  # 8-bit signature of the question
        self.whole = whole  # the whole sample: its shingle hashes (rensa) or signature (numpy)
        self.long = long  # answers long enough for the whole-sample check


class Deduper:
    """Streaming: add samples one by one in dataset order; the first of a group is kept,
    later ones are marked.

    * ``duplicate`` (reject): the same image(s) and the same normalised question as an
      earlier sample.
    * ``near_duplicate``: the question is near-identical to an earlier question about the
      same image(s) (reject); or, with ``across_images``, the whole sample — questions and
      answers — is near-identical to an earlier sample on other images (review). Questions
      alone never match across images: templated questions ("What time does the clock
      show?") repeat legitimately over many images, and so do short templated answers, so
      the whole-sample check applies only when the answers have at least
      ``min_copy_words`` words (a CJK character counting as half a word).

    With ``by_answer``, samples count as duplicates only when their type and normalised
    answers are the same too: a near-identical question with another answer is a
    contrastive pair (a true and a false statement), kept.

    "The same image(s)" is the set of a sample's image ids; `alias_image` makes an image
    count as another (say a near-identical one `ImageDeduper` found). Questions are
    compared with every kept question of their image set (the image set is the bucket);
    whole samples go through an LSH index (rensa's `RMinHashLSH`, ``bands`` bands of
    ``num_perm // bands`` rows, 8 × 8 by default: few candidates even among templated
    answers) holding only the first of each group; at most ``max_candidates`` candidates
    are verified per sample. Per kept sample, memory holds an 8-bit signature of its
    question (and of the whole sample when it is long enough) and its id, never its text.

    `check_all` is `check` over an iterable, sketching samples in batches (several times
    faster than one by one); the results are the same.
    """

    def __init__(
        self,
        threshold: float = 0.85,
        num_perm: int = 64,
        shingle: int = 3,
        across_images: bool = True,
        *,
        bands: int | None = None,
        min_copy_words: int = 8,
        numbers_must_match: bool = True,
        max_candidates: int = 256,
        backend: str | None = None,
        by_answer: bool = False,
    ) -> None:
        bands = _check_params(threshold, num_perm, shingle, bands or max(1, num_perm // 8))
        self.threshold, self.num_perm, self.shingle = threshold, num_perm, shingle
        self.across_images, self.min_copy_words = across_images, min_copy_words
        self.by_answer = by_answer
        self.numbers_must_match, self.max_candidates = numbers_must_match, max_candidates
        self._backend = _backend(num_perm, backend)
        self._need = _min_agree(threshold, num_perm)
        self._kept: list[str] = []  # ids of the kept samples, by kept number
        self._exact: dict[int, int] = {}  # hash of (image set, normalised question) → kept number
        self._images: dict[tuple[str, ...], _ImageQuestions] = {}
        self._alias: dict[str, str] = {}
        self._index = self._backend.index(threshold, bands)  # whole samples, by whole number
        self._whole_sigs = np.zeros((0, num_perm), np.uint8)  # grown by doubling
        self._whole_n = 0
        self._whole_owner: list[int] = []  # kept number of each indexed whole sample
        self._whole_images: list[tuple[str, ...]] = []

    @property
    def backend(self) -> str:
        return self._backend.name

    def alias_image(self, image_id: str, same_as: str) -> None:
        """Treat `image_id` as `same_as` from now on (a near-identical copy)."""
        while same_as in self._alias:
            same_as = self._alias[same_as]
        if same_as != image_id:
            self._alias[image_id] = same_as

    def check(self, s: Sample) -> dict[str, dict]:
        """``duplicate`` and ``near_duplicate`` results for the next sample."""
        return self._decide(s, self._sketch([s])[0])

    def check_all(self, samples: Iterable[Sample], batch: int = 1024) -> Iterator[dict[str, dict]]:
        """`check` for each sample in turn."""
        for chunk in _chunks(samples, batch):
            for s, sk in zip(chunk, self._sketch(chunk), strict=True):
                yield self._decide(s, sk)

    def _sketch(self, samples: Sequence[Sample]) -> list[_Sketch]:
        texts: list[str] = []
        for s in samples:
            texts.append("\n".join(t.question for t in s.turns))
            texts.append("\n".join(f"{t.question}\n{t.answer}" for t in s.turns))
            texts.append("\n".join(t.answer for t in s.turns))
        cp, cls, starts, ends = _normalised_codes(texts)
        flat, offsets = _shingle_hashes(cp, cls, starts, self.shingle, self.numbers_must_match)
        offsets = offsets.astype(np.int64)
        sizes = np.diff(offsets)
        kind = np.repeat(np.arange(len(texts)) % 3, sizes)  # 0 question, 1 whole, 2 answers

        def rows_of(k: int) -> np.ndarray:  # signatures of one kind of text, in bulk
            at = np.zeros(len(samples) + 1, np.uint64)
            np.cumsum(sizes[k::3], out=at[1:])
            return self._backend.rows(flat[kind == k], at)

        q_rows = rows_of(0).astype(np.uint8)
        # rensa indexes RMinHash objects, made when needed; the fallback indexes rows
        w_rows = rows_of(1) if isinstance(self._backend, _NumpyBackend) else None
        out = []
        for k in range(len(samples)):
            q, w, a = 3 * k, 3 * k + 1, 3 * k + 2
            words = _words(cp[starts[a] : ends[a]], cls[starts[a] : ends[a]])
            whole = flat[offsets[w] : offsets[w + 1]] if w_rows is None else w_rows[k]
            out.append(
                _Sketch(cp[starts[q] : ends[q]].tobytes(), q_rows[k], whole, words >= self.min_copy_words)
            )
        return out

    def _decide(self, s: Sample, sk: _Sketch) -> dict[str, dict]:
        key = tuple(sorted({self._alias.get(i, i) for i in s.images}))
        if self.by_answer:  # the same question with another answer is a contrastive pair, not a copy
            key = (*key, s.type, normalise(" ".join(t.answer for t in s.turns)))
        exact_key = hash((key, sk.exact))
        kept = self._exact.get(exact_key)
        if kept is not None:
            of = self._kept[kept]
            return {
                "duplicate": failed(f"same image and question as sample {of}", REJECT, of=of),
                "near_duplicate": passed(),
            }
        result: dict[str, dict] = {"duplicate": passed(), "near_duplicate": passed()}
        group = self._images.get(key)
        if group is not None:
            sigs = np.frombuffer(bytes(group.sigs), np.uint8).reshape(-1, self.num_perm)
            agree = np.count_nonzero(sigs == sk.question, axis=1)
            hits = np.flatnonzero(agree >= self._need)
            if len(hits):
                h = int(hits[0])
                of = self._kept[group.owners[h]]
                sim = round(float(_estimate(agree[h], self.num_perm)), 3)
                result["near_duplicate"] = failed(
                    f"near-duplicate question of sample {of} on the same image (similarity {sim:.2f})",
                    REJECT,
                    of=of,
                    similarity=sim,
                )
                return result
        else:
            group = self._images[key] = _ImageQuestions()
        self._kept.append(s.id)
        number = len(self._kept) - 1
        self._exact[exact_key] = number
        group.sigs += sk.question.tobytes()
        group.owners.append(number)
        if self.across_images and sk.long:
            self._across(key, number, sk.whole, result)
        return result

    def _across(self, key: tuple[str, ...], number: int, whole: np.ndarray, result: dict) -> None:
        """The whole-sample check: `whole` is the shingle hashes (rensa) or the signature row."""
        handle, row = (
            (whole, whole) if isinstance(self._backend, _NumpyBackend) else self._backend.sketch(whole)
        )
        sig = row.astype(np.uint8)
        cands = np.array(sorted(self._index.query(handle))[: self.max_candidates], dtype=np.int64)
        matched = False
        if len(cands):
            agree = np.count_nonzero(self._whole_sigs[cands] == sig, axis=1)
            ok = agree >= self._need
            for c, a in zip(cands[ok].tolist(), agree[ok].tolist(), strict=True):
                matched = True
                if self._whole_images[c] != key:
                    of = self._kept[self._whole_owner[c]]
                    sim = round(float(_estimate(a, self.num_perm)), 3)
                    result["near_duplicate"] = failed(
                        f"question and answers near-copy sample {of} on another image (similarity {sim:.2f})",
                        REVIEW,
                        of=of,
                        similarity=sim,
                    )
                    break
        if matched:  # only the first of a group is indexed: buckets stay small
            return
        c = self._whole_n
        if c == len(self._whole_sigs):
            grown = np.zeros((max(64, 2 * c), self.num_perm), np.uint8)
            grown[:c] = self._whole_sigs
            self._whole_sigs = grown
        self._whole_sigs[c] = sig
        self._whole_n += 1
        self._index.insert(c, handle)
        self._whole_owner.append(number)
        self._whole_images.append(key)


def _words(cp: np.ndarray, cls: np.ndarray) -> float:
    """Words in a normalised text, a CJK character counting as half a word."""
    cjk = int((cls == _CJK).sum())
    rest = cp[cls != _CJK].tobytes().decode("utf-32-le", "surrogatepass")
    return len(rest.split()) + cjk / 2


# -- images -----------------------------------------------------------------------------------


@lru_cache(maxsize=4)
def _dct_matrix(n: int) -> np.ndarray:
    """The unnormalised type-II DCT as a matrix (SciPy's `dct` default, as imagehash uses)."""
    k = np.arange(n)[:, None]
    x = np.arange(n)[None, :]
    return 2 * np.cos(np.pi * k * (2 * x + 1) / (2 * n))


class ImageDeduper:
    """Near-identical images by perceptual hash (`imagehash.phash`), looked up by
    multi-index hashing: the hash is cut into ``max_distance + 1`` pieces, and two hashes
    within ``max_distance`` bits agree exactly on at least one piece, so only images sharing
    a piece are compared. Only the first image of each group is indexed.
    """

    def __init__(self, max_distance: int = 4, hash_size: int = 8) -> None:
        if max_distance < 0 or hash_size < 2:
            raise ValueError("max_distance must be >= 0 and hash_size >= 2")
        self.max_distance, self.hash_size = max_distance, hash_size
        bits = hash_size * hash_size
        pieces = min(bits, max_distance + 1)
        cuts = [round(i * bits / pieces) for i in range(pieces + 1)]
        # per piece: (shift, mask, piece value → indexes of the images having it)
        self._pieces: list[tuple[int, int, dict[int, list[int]]]] = [
            (lo, (1 << (hi - lo)) - 1, {}) for lo, hi in pairwise(cuts)
        ]
        self._hashes: list[int] = []
        self._ids: list[str] = []
        self._seen: dict[str, tuple[str | None, int]] = {}  # image id → (earlier id, distance)

    def phash(self, path: str | os.PathLike[str]) -> int:
        """`imagehash.phash`, bit for bit, with numpy's matrix product for the DCT (no SciPy to
        import: this runs in every worker that takes in images)."""
        from PIL import Image

        n = self.hash_size * 4
        with Image.open(path) as im:
            gray = np.asarray(im.convert("L").resize((n, n), Image.Resampling.LANCZOS), dtype=np.float64)
        d = _dct_matrix(n)
        low = (d @ gray @ d.T)[: self.hash_size, : self.hash_size]
        bits = (low > np.median(low)).flatten()
        return int.from_bytes(np.packbits(bits).tobytes(), "big")

    def add(self, image_id: str, path: str | os.PathLike[str]) -> str | None:
        """The earlier image id this image near-duplicates, or None (then it is indexed)."""
        if image_id in self._seen:
            return self._seen[image_id][0]
        return self.add_hash(image_id, self.phash(path))

    def distance(self, image_id: str) -> int:
        """Hash distance of an added image to the earlier one it near-duplicates (0 if none)."""
        return self._seen[image_id][1]

    def add_hash(self, image_id: str, h: int) -> str | None:
        if image_id in self._seen:
            return self._seen[image_id][0]
        best: tuple[int, int] | None = None  # (index, distance) of the earliest within reach
        for lo, m, table in self._pieces:
            for k in table.get((h >> lo) & m, ()):
                d = (h ^ self._hashes[k]).bit_count()
                if d <= self.max_distance and (best is None or k < best[0]):
                    best = (k, d)
        if best is not None:
            of = self._ids[best[0]]
            self._seen[image_id] = (of, best[1])
            return of
        k = len(self._hashes)
        self._hashes.append(h)
        self._ids.append(image_id)
        for lo, m, table in self._pieces:
            table.setdefault((h >> lo) & m, []).append(k)
        self._seen[image_id] = (None, 0)
        return None


def near_duplicate_image(image_id: str, of: str | None, distance: int) -> dict[str, dict]:
    """The `near_duplicate_image` result of an image: review when it near-copies an earlier one."""
    if of is None or of == image_id:
        return {"near_duplicate_image": passed()}
    return {
        "near_duplicate_image": failed(
            f"image {image_id[:12]} is a near-duplicate of image {of[:12]} "
            f"(perceptual hash distance {distance})",
            REVIEW,
            image=image_id,
            of=of,
            distance=distance,
        )
    }

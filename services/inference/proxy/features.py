"""Features of a candidate for the compile-ability proxy (see the package docstring)."""

from __future__ import annotations

import itertools
import math
import re
import zlib
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass, fields
from typing import Any, NamedTuple

import numpy as np
import numpy.typing as npt

FORMAT_VERSION = 1
ARTIFACT_KIND = "cppforge.inference.proxy"
MANIFEST_NAME = "manifest.json"
WEIGHTS_NAME = "weights.npz"
HASH_NAME = "fnv1a32-codepoints+murmur3-fmix32"
STRUCT_HASH_NAME = "crc32"

_FNV_OFFSET = 0x811C9DC5
_FNV_PRIME = 0x01000193
_START_MARK = "\x02"
_END_MARK = "\x03"

IndexArray = npt.NDArray[np.int64]
ValueArray = npt.NDArray[np.float32]


class SparseVector(NamedTuple):
    """Sorted unique bucket indices and their float32 values (the vector is L2-normalised)."""

    indices: IndexArray
    values: ValueArray


@dataclass(frozen=True)
class FeatureConfig:
    """Everything that decides the feature vector; stored in the artifact and checked on load."""

    ngram_min: int = 2
    ngram_max: int = 5
    n_buckets: int = 1 << 16
    hash_name: str = HASH_NAME
    struct_hash_name: str = STRUCT_HASH_NAME
    collapse_whitespace: bool = True
    boundary_markers: bool = True
    struct_weight: float = 1.0
    max_chars: int = 16384  # longer texts keep their head and tail halves for the n-grams

    def __post_init__(self) -> None:
        if not 1 <= self.ngram_min <= self.ngram_max <= 16:
            raise ValueError(f"need 1 <= ngram_min <= ngram_max <= 16, got {self.ngram_min}..{self.ngram_max}")
        if not 16 <= self.n_buckets <= 1 << 24:
            raise ValueError(f"n_buckets must be in [16, 2**24], got {self.n_buckets}")
        if self.hash_name != HASH_NAME or self.struct_hash_name != STRUCT_HASH_NAME:
            raise ValueError(
                f"unknown feature hash {self.hash_name!r}/{self.struct_hash_name!r}; "
                f"this code implements {HASH_NAME!r}/{STRUCT_HASH_NAME!r}"
            )
        if not (math.isfinite(self.struct_weight) and self.struct_weight >= 0):
            raise ValueError("struct_weight must be a finite number >= 0")
        if self.max_chars < 64:
            raise ValueError("max_chars must be >= 64")

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> FeatureConfig:
        known = {f.name for f in fields(cls)}
        unknown = sorted(set(data) - known)
        if unknown:
            raise ValueError(f"unknown feature config keys {unknown}")
        return cls(**dict(data))


def _fmix32(h: npt.NDArray[np.uint32]) -> npt.NDArray[np.uint32]:
    """murmur3's 32-bit finaliser (uint32 arithmetic wraps modulo 2**32)."""
    h = h ^ (h >> np.uint32(16))
    h = h * np.uint32(0x85EBCA6B)
    h = h ^ (h >> np.uint32(13))
    h = h * np.uint32(0xC2B2AE35)
    return h ^ (h >> np.uint32(16))


def ngram_hash(ngram: str) -> int:
    """Scalar reference of the n-gram hash (the vectorised one in `ngram_hashes` must agree)."""
    h = _FNV_OFFSET
    for ch in ngram:
        h = ((h ^ ord(ch)) * _FNV_PRIME) & 0xFFFFFFFF
    h ^= h >> 16
    h = (h * 0x85EBCA6B) & 0xFFFFFFFF
    h ^= h >> 13
    h = (h * 0xC2B2AE35) & 0xFFFFFFFF
    return h ^ (h >> 16)


def ngram_hashes(text: str, ngram_min: int, ngram_max: int) -> npt.NDArray[np.uint32]:
    """The hashes of every character n-gram of `text`, n in [ngram_min, ngram_max], all at once.

    FNV-1a is a left fold, so the hash of each (n+1)-gram extends the n-gram's state by one code
    point: every length costs one xor and one multiply over the whole array.
    """
    cp = np.frombuffer(text.encode("utf-32-le", "surrogatepass"), dtype=np.uint32)
    length = cp.shape[0]
    parts: list[npt.NDArray[np.uint32]] = []
    state = np.full(length, _FNV_OFFSET, dtype=np.uint32)
    prime = np.uint32(_FNV_PRIME)
    for n in range(1, min(ngram_max, length) + 1):
        state = (state[: length - n + 1] ^ cp[n - 1 :]) * prime
        if n >= ngram_min:
            parts.append(state)
    if not parts:
        return np.zeros(0, dtype=np.uint32)
    return _fmix32(np.concatenate(parts))


_WS_RE = re.compile(r"\s+")
# Complete literals and comments; what stays after removing them is the code proper.
_LITERAL_OR_COMMENT_RE = re.compile(
    r"""//[^\n]*|/\*.*?\*/|"(?:\\.|[^"\\\n])*"|'(?:\\.|[^'\\\n])*'""",
    re.DOTALL,
)
_RAW_STRING_RE = re.compile(r'R"([^()\\\s]{0,16})\((?:.|\n)*?\)\1"')
_PREPROCESSOR_RE = re.compile(r"^[ \t]*#.*$", re.MULTILINE)
_TOKEN_RE = re.compile(r"[A-Za-z_]\w*|::|->|[.{}()\[\];,<>&*=:]")
_RETURN_UNTERMINATED_RE = re.compile(r"\breturn\b[^;{}]*\}")
_DEF_NO_TYPE_RE = re.compile(
    r"(?:^|[;{}])\s*([A-Za-z_]\w*)\s*\([^;{}()]*(?:\([^;{}()]*\)[^;{}()]*)*\)\s*(?:const\s*)?\{"
)


def _words(text: str) -> frozenset[str]:
    return frozenset(text.split())


_CPP_WORDS = _words(
    """
    alignas alignof and and_eq asm auto bitand bitor bool break case catch char char8_t char16_t char32_t class
    compl concept const consteval constexpr constinit const_cast continue co_await co_return co_yield decltype
    default delete do double dynamic_cast else enum explicit export extern false final float for friend goto if
    inline int long mutable namespace new noexcept not not_eq nullptr operator or or_eq override private
    protected public register reinterpret_cast requires return short signed sizeof static static_assert
    static_cast struct switch template this thread_local throw true try typedef typeid typename union unsigned
    using virtual void volatile wchar_t while xor xor_eq
    std size_t ptrdiff_t int8_t int16_t int32_t int64_t uint8_t uint16_t uint32_t uint64_t intptr_t uintptr_t
    main printf scanf puts putchar getchar malloc calloc realloc free memset memcpy memmove strlen strcmp strcpy
    abs fabs sqrt pow exp log log2 log10 floor ceil round sin cos tan atan2 min max swap sort reverse assert
    cin cout cerr endl string vector map set pair NULL EOF INT_MAX INT_MIN LLONG_MAX LLONG_MIN SIZE_MAX
    """
)
# Tokens before which an identifier is a use, never a declared name (`return x`, `case x`).
_NOT_A_TYPE = _words("return case goto throw delete new sizeof co_return co_yield co_await else do not and or typeid")
# A statement line that ends like an expression and is followed by a line that cannot continue it.
_STMT_START_WORDS = _words("if for while switch else do case default template public private protected struct class")
_CONTINUATION_CHARS = frozenset("{.?:+-*/%&|^<>=,)")
_CONTROL_WORDS = _words("if for while switch catch return sizeof alignof decltype static_assert")
_LEN_BUCKET_MAX = 14
_LINE_BUCKET_MAX = 10


def _strip_literals(text: str) -> str:
    text = _RAW_STRING_RE.sub(" ", text)
    return _LITERAL_OR_COMMENT_RE.sub(" ", text)


def _log2_bucket(n: int, top: int) -> int:
    return min(n.bit_length(), top)


def _undeclared_identifiers(code: str) -> int:
    """How many distinct identifiers are used but never appear in a declaring position.

    A declaring position is right after a type-like token (an identifier that is not `return`
    and the like, `>`, `&`, `*`), after `struct`/`class`, or as a member initialiser. Names after
    `.`, `->` or `::` are members and skipped; keywords and common library names are known.
    """
    tokens = _TOKEN_RE.findall(_PREPROCESSOR_RE.sub(" ", code))
    declared: set[str] = set()
    used: set[str] = set()
    prev = ""
    for i, tok in enumerate(tokens):
        if tok[0].isalpha() or tok[0] == "_":
            nxt = tokens[i + 1] if i + 1 < len(tokens) else ""
            if prev in (".", "->", "::") or (nxt == "::" and tok in _CPP_WORDS):
                pass
            elif ((prev[:1].isalpha() or prev[:1] == "_") and prev not in _NOT_A_TYPE) or prev in (">", "&", "*"):
                declared.add(tok)
            else:
                used.add(tok)
        prev = tok
    return len(used - declared - _CPP_WORDS)


def _missing_semicolon_lines(code: str) -> int:
    """Lines ending in a name, number, `)` or `]` whose next line starts a new statement."""
    lines = [ln.strip() for ln in _PREPROCESSOR_RE.sub("", code).splitlines()]
    lines = [ln for ln in lines if ln]
    hits = 0
    for line, nxt in itertools.pairwise(lines):
        last = line[-1]
        if not (last.isalnum() or last in "_)]"):
            continue
        first_word = re.match(r"[A-Za-z_]\w*", line)
        if first_word is not None and first_word.group(0) in _STMT_START_WORDS:
            continue
        if nxt[0] in _CONTINUATION_CHARS:
            continue
        hits += 1
    return hits


def structural_features(text: str) -> dict[str, float]:
    """The named structural features of one candidate (all cheap: regexes and counts)."""
    code = _strip_literals(text)
    feats: dict[str, float] = {}

    def bal(name: str, opening: str, closing: str) -> None:
        d = code.count(opening) - code.count(closing)
        feats[f"{name}:{max(-3, min(3, d))}"] = 1.0

    bal("brace", "{", "}")
    bal("paren", "(", ")")
    bal("bracket", "[", "]")
    if '"' in code or re.search(r"'(?!\w*')", code) is not None:
        feats["unterminated_literal"] = 1.0
    stripped = text.rstrip()
    feats["ends_with_brace" if stripped.endswith("}") else "ends_without_brace"] = 1.0
    if stripped.endswith(";"):
        feats["ends_with_semicolon"] = 1.0
    feats[f"len:{_log2_bucket(len(text), _LEN_BUCKET_MAX)}"] = 1.0
    feats[f"lines:{_log2_bucket(text.count(chr(10)) + 1 if text else 0, _LINE_BUCKET_MAX)}"] = 1.0
    if text and not text.isascii():
        non_ascii = sum(1 for ch in text if ord(ch) > 127) / len(text)
        feats["non_ascii_any"] = 1.0
        feats["non_ascii_frac"] = non_ascii
    if _RETURN_UNTERMINATED_RE.search(code):
        feats["return_unterminated"] = 1.0
    no_stmt = _PREPROCESSOR_RE.sub(" ", code)
    class_names = set(re.findall(r"\b(?:struct|class|union)\s+([A-Za-z_]\w*)", no_stmt))
    for m in _DEF_NO_TYPE_RE.finditer(no_stmt):
        name = m.group(1)
        if name not in _CONTROL_WORDS and name not in class_names:
            feats["def_without_type"] = 1.0
            break
    if _missing_semicolon_lines(code):
        feats["line_missing_semicolon"] = 1.0
    undeclared = _undeclared_identifiers(code)
    feats[f"undeclared:{min(undeclared, 3)}"] = 1.0
    if not text.strip():
        feats["empty"] = 1.0
    return feats


class Featurizer:
    """Text -> L2-normalised sparse hashed vector, per `FeatureConfig`."""

    def __init__(self, config: FeatureConfig | None = None) -> None:
        self.config = config or FeatureConfig()
        self._struct_index: dict[str, int] = {}

    def _struct_bucket(self, name: str) -> int:
        idx = self._struct_index.get(name)
        if idx is None:
            idx = zlib.crc32(("struct:" + name).encode()) % self.config.n_buckets
            if len(self._struct_index) < 4096:
                self._struct_index[name] = idx
        return idx

    def _ngram_text(self, text: str) -> str:
        cfg = self.config
        if len(text) > cfg.max_chars:
            half = cfg.max_chars // 2
            text = text[:half] + "\n" + text[-half:]
        if cfg.collapse_whitespace:
            text = _WS_RE.sub(" ", text).strip()
        if cfg.boundary_markers:
            text = _START_MARK + text + _END_MARK
        return text

    def transform(self, text: str) -> SparseVector:
        cfg = self.config
        hashes = ngram_hashes(self._ngram_text(text), cfg.ngram_min, cfg.ngram_max)
        buckets = (hashes % np.uint32(cfg.n_buckets)).astype(np.int64)
        uniq, counts = np.unique(buckets, return_counts=True)
        ng_vals = 1.0 + np.log(counts.astype(np.float64))
        norm = float(np.sqrt(np.dot(ng_vals, ng_vals)))
        if norm > 0:
            ng_vals /= norm
        struct = structural_features(text)
        s_idx = np.fromiter((self._struct_bucket(k) for k in struct), dtype=np.int64, count=len(struct))
        s_vals = np.fromiter(struct.values(), dtype=np.float64, count=len(struct)) * cfg.struct_weight
        all_idx = np.concatenate((uniq, s_idx))
        all_vals = np.concatenate((ng_vals, s_vals))
        indices, inverse = np.unique(all_idx, return_inverse=True)
        raw = np.bincount(inverse, weights=all_vals, minlength=indices.shape[0])
        norm = float(np.sqrt(np.dot(raw, raw)))
        values = raw / norm if norm > 0 else raw
        return SparseVector(indices, values.astype(np.float32))

    def transform_many(self, texts: Sequence[str]) -> SparseBatch:
        return SparseBatch.from_vectors([self.transform(t) for t in texts], self.config.n_buckets)


@dataclass
class SparseBatch:
    """Rows of sparse vectors in CSR layout (numpy only)."""

    indptr: IndexArray
    indices: IndexArray
    values: ValueArray
    n_features: int

    @property
    def n_rows(self) -> int:
        return int(self.indptr.shape[0]) - 1

    @classmethod
    def from_vectors(cls, vectors: Sequence[SparseVector], n_features: int) -> SparseBatch:
        lengths = np.fromiter((v.indices.shape[0] for v in vectors), dtype=np.int64, count=len(vectors))
        indptr = np.zeros(len(vectors) + 1, dtype=np.int64)
        np.cumsum(lengths, out=indptr[1:])
        if vectors:
            indices = np.concatenate([v.indices for v in vectors]).astype(np.int64)
            values = np.concatenate([v.values for v in vectors]).astype(np.float32)
        else:
            indices = np.zeros(0, dtype=np.int64)
            values = np.zeros(0, dtype=np.float32)
        return cls(indptr, indices, values, n_features)

    def dot(self, weights: npt.NDArray[np.floating[Any]], bias: float = 0.0) -> npt.NDArray[np.float64]:
        """Row-wise w·x + b."""
        rows = np.repeat(np.arange(self.n_rows), np.diff(self.indptr))
        prod = weights[self.indices].astype(np.float64) * self.values
        return np.asarray(np.bincount(rows, weights=prod, minlength=self.n_rows) + bias, dtype=np.float64)

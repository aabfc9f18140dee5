"""A small learned proxy of the verifier: P(compiles) from the candidate's text, in microseconds.

Best-of-N ranking wants to drop the candidates that will not even compile before paying for the
real verifier. This module trains a logistic regression on samples labelled by the real verifier
(`label_with_verifier`, i.e. `verify_cpp(...).compile_ok`) and scores one candidate in well under
a millisecond.

Features (all hashed into one fixed-size vector of `FeatureConfig.n_buckets` slots, stored sparse):

* character n-grams (n = 2..5 by default) of the candidate, with whitespace runs collapsed and
  start/end markers, so ``"b }"`` (a missing ``;``) or an ending that is not ``}`` are visible;
  counts are damped to ``1 + log(count)`` and the n-gram block is L2-normalised;
* a handful of cheap structural features, one-hot in buckets: brace / paren / bracket balance
  (outside comments and literals), an unterminated string or char literal, ends-with-``}``,
  length and line-count buckets, the fraction of non-ASCII characters, and three C++ hints
  (a ``return`` not closed by ``;`` before ``}``, a function definition without a return type,
  identifiers that are used but never declared, which is what a misspelling leaves behind).
  They are scaled by `FeatureConfig.struct_weight` and the whole vector is L2-normalised again.

The hash is stable across processes and machines (never Python's salted `hash`): n-grams use
FNV-1a over the Unicode code points followed by the murmur3 32-bit finaliser, computed with numpy
for all n-grams at once (see `ngram_hash` for the scalar reference); structural features use
`zlib.crc32` of their name. A model saved with one `FeatureConfig` is only meaningful with that
config, so the config travels in the artifact's manifest.

Artifact layout (`ProxyClassifier.save`): a directory holding ``weights.npz`` (``weights``
float32 of shape ``(n_buckets,)`` and ``bias`` float32 of shape ``(1,)``) and ``manifest.json``
(``kind``, ``format_version``, feature config, training metadata and the weights' sha256).
`ProxyClassifier.load` refuses any other ``format_version`` with a ValueError.
"""

from __future__ import annotations

import hashlib
import itertools
import json
import math
import os
import re
import tempfile
import zlib
from collections.abc import Callable, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import asdict, dataclass, fields
from datetime import datetime, timezone
from pathlib import Path
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


# ---------------------------------------------------------------------------------------------
# Features
# ---------------------------------------------------------------------------------------------


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


# ---------------------------------------------------------------------------------------------
# Model
# ---------------------------------------------------------------------------------------------


def _sigmoid(z: npt.NDArray[np.floating[Any]]) -> npt.NDArray[np.float64]:
    return np.asarray(0.5 * (1.0 + np.tanh(0.5 * z)), dtype=np.float64)


def _sigmoid1(z: float) -> float:
    return 0.5 * (1.0 + math.tanh(0.5 * z))


class ProxyClassifier:
    """Logistic regression over hashed features; `score` is P(compile_ok)."""

    def __init__(
        self,
        weights: npt.NDArray[np.floating[Any]],
        bias: float,
        config: FeatureConfig | None = None,
        metadata: Mapping[str, Any] | None = None,
    ) -> None:
        self.config = config or FeatureConfig()
        w = np.ascontiguousarray(weights, dtype=np.float32)
        if w.shape != (self.config.n_buckets,):
            raise ValueError(f"weights have shape {w.shape}, the feature config needs ({self.config.n_buckets},)")
        self.weights: npt.NDArray[np.float32] = w
        self.bias = float(np.float32(bias))
        self.metadata: dict[str, Any] = dict(metadata or {})
        self.featurizer = Featurizer(self.config)

    def decision(self, text: str) -> float:
        """The logit w·x + b."""
        idx, vals = self.featurizer.transform(text)
        return float(np.dot(self.weights[idx], vals)) + self.bias

    def score(self, text: str) -> float:
        """P(compiles) of one candidate."""
        return _sigmoid1(self.decision(text))

    def score_many(self, texts: Sequence[str]) -> list[float]:
        return [_sigmoid1(self.decision(t)) for t in texts]

    # -- artifact ------------------------------------------------------------------------------

    def save(self, path: Path | str) -> Path:
        """Write the artifact directory `path` (created if needed); returns it."""
        path = Path(path)
        path.mkdir(parents=True, exist_ok=True)
        weights_tmp = _tmp_in(path, WEIGHTS_NAME)
        with open(weights_tmp, "wb") as fh:
            np.savez(fh, weights=self.weights, bias=np.array([self.bias], dtype=np.float32))
        digest = _sha256(weights_tmp)
        os.replace(weights_tmp, path / WEIGHTS_NAME)
        manifest = {
            "kind": ARTIFACT_KIND,
            "format_version": FORMAT_VERSION,
            "feature_config": self.config.to_dict(),
            "weights_file": WEIGHTS_NAME,
            "weights_sha256": digest,
            "weights_dtype": "float32",
            "n_buckets": self.config.n_buckets,
            "metadata": _json_safe(self.metadata),
        }
        manifest_tmp = _tmp_in(path, MANIFEST_NAME)
        manifest_tmp.write_text(json.dumps(manifest, indent=2, sort_keys=True, allow_nan=False) + "\n")
        os.replace(manifest_tmp, path / MANIFEST_NAME)
        return path

    @classmethod
    def load(cls, path: Path | str) -> ProxyClassifier:
        """Read an artifact written by `save`; ValueError if it is not one this code can read."""
        path = Path(path)
        manifest_path = path / MANIFEST_NAME if path.is_dir() else path
        try:
            manifest = json.loads(manifest_path.read_text())
        except FileNotFoundError:
            raise ValueError(f"{path}: no proxy artifact here ({MANIFEST_NAME} is missing)") from None
        except json.JSONDecodeError as exc:
            raise ValueError(f"{manifest_path}: manifest is not valid JSON ({exc})") from None
        if not isinstance(manifest, dict) or manifest.get("kind") != ARTIFACT_KIND:
            raise ValueError(f"{manifest_path}: not a {ARTIFACT_KIND} artifact")
        version = manifest.get("format_version")
        if version != FORMAT_VERSION:
            raise ValueError(
                f"{manifest_path}: proxy artifact has format_version {version!r}, but this code reads "
                f"format_version {FORMAT_VERSION}; retrain or convert the artifact"
            )
        config = FeatureConfig.from_dict(manifest["feature_config"])
        weights_path = manifest_path.parent / str(manifest.get("weights_file", WEIGHTS_NAME))
        if not weights_path.is_file():
            raise ValueError(f"{weights_path}: weights file is missing")
        expected = manifest.get("weights_sha256")
        if expected is not None and _sha256(weights_path) != expected:
            raise ValueError(f"{weights_path}: checksum does not match the manifest (corrupt or replaced)")
        with np.load(weights_path, allow_pickle=False) as data:
            weights = np.array(data["weights"])
            bias_arr = np.array(data["bias"])
        if weights.dtype != np.float32 or bias_arr.shape != (1,):
            raise ValueError(f"{weights_path}: expected float32 weights and a (1,) bias")
        return cls(weights, float(bias_arr[0]), config, manifest.get("metadata") or {})


def _tmp_in(directory: Path, name: str) -> Path:
    fd, tmp = tempfile.mkstemp(prefix=f".{name}.", suffix=".tmp", dir=directory)
    os.close(fd)
    return Path(tmp)


def _sha256(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as fh:
        for chunk in iter(lambda: fh.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def _json_safe(value: Any) -> Any:
    """Metadata for JSON: non-finite floats become None, numpy scalars plain Python."""
    if isinstance(value, Mapping):
        return {str(k): _json_safe(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_json_safe(v) for v in value]
    if isinstance(value, np.generic):
        value = value.item()
    if isinstance(value, float) and not math.isfinite(value):
        return None
    return value


ClassWeight = str | Mapping[bool, float] | None


def _sample_weights(y: npt.NDArray[np.float64], class_weight: ClassWeight) -> npt.NDArray[np.float64]:
    if class_weight is None:
        return np.ones_like(y)
    if class_weight == "balanced":
        n = y.shape[0]
        n_pos = float(y.sum())
        n_neg = n - n_pos
        w_pos = n / (2.0 * n_pos) if n_pos else 0.0
        w_neg = n / (2.0 * n_neg) if n_neg else 0.0
        return np.where(y > 0.5, w_pos, w_neg)
    if isinstance(class_weight, Mapping):
        return np.where(y > 0.5, float(class_weight.get(True, 1.0)), float(class_weight.get(False, 1.0)))
    raise ValueError(f"class_weight must be None, 'balanced' or {{True: w, False: w}}, got {class_weight!r}")


def train_proxy(
    texts: Sequence[str],
    labels: Sequence[bool],
    seed: int = 0,
    epochs: int = 10,
    *,
    lr: float = 1.0,
    l2: float = 1e-4,
    batch_size: int = 32,
    class_weight: ClassWeight = "balanced",
    config: FeatureConfig | None = None,
    trained_on: str = "",
    eval_texts: Sequence[str] | None = None,
    eval_labels: Sequence[bool] | None = None,
) -> ProxyClassifier:
    """Fit the proxy: mini-batch Adagrad on the weighted log loss plus `l2`/2·||w||² (bias free).

    Deterministic for a given seed (zero init, seeded shuffles). The metadata records the data,
    the hyper-parameters and the metrics on the training set (and on the eval set if given).
    """
    if len(texts) != len(labels):
        raise ValueError(f"{len(texts)} texts but {len(labels)} labels")
    if not texts:
        raise ValueError("no training data")
    if epochs < 1 or batch_size < 1 or not lr > 0 or not l2 >= 0:
        raise ValueError("need epochs >= 1, batch_size >= 1, lr > 0, l2 >= 0")
    config = config or FeatureConfig()
    featurizer = Featurizer(config)
    batch = featurizer.transform_many(texts)
    y = np.array([1.0 if bool(v) else 0.0 for v in labels], dtype=np.float64)
    sw = _sample_weights(y, class_weight)
    n = y.shape[0]
    dim = config.n_buckets
    w = np.zeros(dim, dtype=np.float64)
    b = 0.0
    g2_w = np.zeros(dim, dtype=np.float64)
    g2_b = 0.0
    eps = 1e-8
    rng = np.random.default_rng(seed)
    starts, ends = batch.indptr[:-1], batch.indptr[1:]
    for _ in range(epochs):
        order = rng.permutation(n)
        for lo in range(0, n, batch_size):
            rows = order[lo : lo + batch_size]
            m = rows.shape[0]
            lengths = ends[rows] - starts[rows]
            pos = np.concatenate([np.arange(starts[r], ends[r]) for r in rows])
            local = np.repeat(np.arange(m), lengths)
            idx = batch.indices[pos]
            vals = batch.values[pos].astype(np.float64)
            z = np.bincount(local, weights=w[idx] * vals, minlength=m) + b
            resid = (_sigmoid(z) - y[rows]) * sw[rows]
            denom = float(sw[rows].sum()) or 1.0
            resid /= denom
            uniq, inv = np.unique(idx, return_inverse=True)
            grad = l2 * w
            grad[uniq] += np.bincount(inv, weights=resid[local] * vals, minlength=uniq.shape[0])
            g2_w += grad * grad
            w -= lr * grad / (np.sqrt(g2_w) + eps)
            gb = float(resid.sum())
            g2_b += gb * gb
            b -= lr * gb / (math.sqrt(g2_b) + eps)
    n_pos = int(y.sum())
    metadata: dict[str, Any] = {
        "n_samples": n,
        "n_positive": n_pos,
        "positive_rate": n_pos / n,
        "seed": seed,
        "epochs": epochs,
        "lr": lr,
        "l2": l2,
        "batch_size": batch_size,
        "class_weight": class_weight
        if not isinstance(class_weight, Mapping)
        else {str(k): v for k, v in class_weight.items()},
        "optimizer": "adagrad",
        "trained_on": trained_on,
        "created_at": datetime.now(timezone.utc).isoformat(timespec="seconds"),
        "numpy_version": np.__version__,
        "metrics": {},
    }
    clf = ProxyClassifier(w.astype(np.float32), b, config, metadata)
    clf.metadata["metrics"]["train"] = evaluate(clf, texts, labels)
    if eval_texts is not None and eval_labels is not None:
        clf.metadata["metrics"]["eval"] = evaluate(clf, eval_texts, eval_labels)
    return clf


# ---------------------------------------------------------------------------------------------
# Evaluation
# ---------------------------------------------------------------------------------------------


def roc_auc(scores: Sequence[float], labels: Sequence[bool]) -> float:
    """Rank-based AUC (Mann-Whitney U), tied scores share their average rank; NaN with one class."""
    s = np.asarray(scores, dtype=np.float64)
    y = np.asarray([bool(v) for v in labels], dtype=bool)
    if s.shape != y.shape:
        raise ValueError(f"{s.shape[0]} scores but {y.shape[0]} labels")
    n_pos = int(y.sum())
    n_neg = int(y.shape[0] - n_pos)
    if n_pos == 0 or n_neg == 0:
        return float("nan")
    order = np.argsort(s, kind="mergesort")
    sorted_s = s[order]
    ranks = np.empty(s.shape[0], dtype=np.float64)
    # Tie groups: [start, end) runs of equal scores get the mean of ranks start+1..end.
    boundaries = np.flatnonzero(np.diff(sorted_s)) + 1
    starts = np.concatenate(([0], boundaries))
    ends = np.concatenate((boundaries, [s.shape[0]]))
    avg = (starts + ends + 1) / 2.0
    ranks[order] = np.repeat(avg, ends - starts)
    u = float(ranks[y].sum()) - n_pos * (n_pos + 1) / 2.0
    return u / (n_pos * n_neg)


def evaluate(
    clf: ProxyClassifier, texts: Sequence[str], labels: Sequence[bool], threshold: float = 0.5
) -> dict[str, float]:
    """accuracy (at `threshold`), auc, log_loss, positive_rate, predicted_positive_rate, n."""
    if len(texts) != len(labels):
        raise ValueError(f"{len(texts)} texts but {len(labels)} labels")
    n = len(texts)
    if n == 0:
        nan = float("nan")
        return {
            "n": 0.0,
            "accuracy": nan,
            "auc": nan,
            "log_loss": nan,
            "positive_rate": nan,
            "predicted_positive_rate": nan,
        }
    p = np.asarray(clf.score_many(texts), dtype=np.float64)
    y = np.asarray([bool(v) for v in labels], dtype=bool)
    pred = p >= threshold
    pc = np.clip(p, 1e-7, 1 - 1e-7)
    log_loss = float(-np.mean(np.where(y, np.log(pc), np.log(1 - pc))))
    return {
        "n": float(n),
        "accuracy": float(np.mean(pred == y)),
        "auc": roc_auc(p.tolist(), y.tolist()),
        "log_loss": log_loss,
        "positive_rate": float(np.mean(y)),
        "predicted_positive_rate": float(np.mean(pred)),
    }


class Split(NamedTuple):
    train_texts: list[str]
    train_labels: list[bool]
    test_texts: list[str]
    test_labels: list[bool]


def split_train_test(
    texts: Sequence[str], labels: Sequence[bool], test_fraction: float = 0.25, seed: int = 0, *, stratify: bool = True
) -> Split:
    """Deterministic shuffled split; with `stratify` each class is split in the same proportion.

    Each class (or the whole set) puts round(test_fraction * size) items in the test part, at
    least one when it has two or more; the order within each part follows the input order.
    """
    if len(texts) != len(labels):
        raise ValueError(f"{len(texts)} texts but {len(labels)} labels")
    if not 0.0 < test_fraction < 1.0:
        raise ValueError("test_fraction must be in (0, 1)")
    rng = np.random.default_rng(seed)
    ys = [bool(v) for v in labels]
    groups = (
        [[i for i, v in enumerate(ys) if v], [i for i, v in enumerate(ys) if not v]]
        if stratify
        else [list(range(len(ys)))]
    )
    test_idx: set[int] = set()
    for group in groups:
        if not group:
            continue
        k = round(test_fraction * len(group))
        if len(group) >= 2:
            k = min(max(k, 1), len(group) - 1)
        perm = rng.permutation(len(group))
        test_idx.update(group[int(j)] for j in perm[:k])
    train = [i for i in range(len(ys)) if i not in test_idx]
    test = sorted(test_idx)
    return Split([texts[i] for i in train], [ys[i] for i in train], [texts[i] for i in test], [ys[i] for i in test])


# ---------------------------------------------------------------------------------------------
# Labelling and scoring
# ---------------------------------------------------------------------------------------------


class LabellingError(RuntimeError):
    """The verifier itself failed on a sample, so it has no trustworthy label."""


def label_with_verifier(
    codes: Sequence[str],
    test_codes: Sequence[str | None] | None = None,
    workers: int = 2,
    *,
    timeout: float = 10.0,
    std: str = "c++17",
    verify: Callable[..., Any] | None = None,
) -> list[bool]:
    """compile_ok of the real `verify_cpp` for each code (in order), `workers` threads at once.

    A sample whose verification hit an infrastructure failure (`infra_error` set) raises
    LabellingError instead of becoming a silent "does not compile" label.
    """
    if test_codes is not None and len(test_codes) != len(codes):
        raise ValueError(f"{len(codes)} codes but {len(test_codes)} test codes")
    if workers < 1:
        raise ValueError("workers must be >= 1")
    if verify is None:
        from ..verifier.verify import verify_cpp

        verify = verify_cpp
    verify_fn = verify
    tests: Sequence[str | None] = test_codes if test_codes is not None else [None] * len(codes)

    def one(i: int) -> bool:
        result = verify_fn(codes[i], tests[i], timeout=timeout, std=std)
        infra = getattr(result, "infra_error", None)
        if infra:
            raise LabellingError(f"sample {i}: verification failed, no label ({infra})")
        return bool(result.compile_ok)

    if workers == 1 or len(codes) <= 1:
        return [one(i) for i in range(len(codes))]
    with ThreadPoolExecutor(max_workers=workers, thread_name_prefix="proxy-label") as pool:
        return list(pool.map(one, range(len(codes))))


@dataclass
class ProxyScorer:
    """Best-of-N hook: `scorer(codes)` -> P(compiles) per candidate, same order.

    `preprocess` (e.g. think-block stripping) runs before scoring and must match what the
    training texts went through.
    """

    classifier: ProxyClassifier
    preprocess: Callable[[str], str] | None = None

    @classmethod
    def from_path(cls, path: Path | str, preprocess: Callable[[str], str] | None = None) -> ProxyScorer:
        return cls(ProxyClassifier.load(path), preprocess)

    def __call__(self, codes: list[str]) -> list[float]:
        pre = self.preprocess
        return self.classifier.score_many([pre(c) for c in codes] if pre is not None else codes)

    def rank(self, codes: list[str]) -> list[int]:
        """Candidate indices, most likely to compile first (stable for equal scores)."""
        scores = self(codes)
        return sorted(range(len(codes)), key=lambda i: -scores[i])

    def filter(self, codes: list[str], threshold: float = 0.5) -> list[int]:
        """Indices of the candidates worth sending to the real verifier."""
        return [i for i, s in enumerate(self(codes)) if s >= threshold]

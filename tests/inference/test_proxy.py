"""The compile-ability proxy, trained on a small set labelled by the real verifier.

The data set is built here: intact C++ functions from a few templates x parameters, and one
broken variant of each made by a realistic mutation (a deleted `;`, a deleted closing `}`, a
misspelt identifier, a dropped return type, unbalanced parentheses). The real `verify_cpp` labels
them, so the test also checks that the labels follow the construction.
"""

from __future__ import annotations

import json
import random
import re
import time
from pathlib import Path

import numpy as np
import pytest

from services.inference.proxy import (
    FORMAT_VERSION,
    MANIFEST_NAME,
    FeatureConfig,
    Featurizer,
    ProxyClassifier,
    ProxyScorer,
    evaluate,
    label_with_verifier,
    ngram_hash,
    ngram_hashes,
    roc_auc,
    split_train_test,
    structural_features,
    train_proxy,
)

# ---------------------------------------------------------------------------------------------
# Data: templates x parameters, then mutations
# ---------------------------------------------------------------------------------------------

NAMES = ["combine", "reduce_pair", "mix", "fold", "blend", "merge_vals", "join_ints", "apply_op", "calc", "step"]
OPS = ["+", "-", "*", "^", "&", "|", "+", "-", "*", "%"]

TEMPLATES = [
    "int {name}(int left, int right) {{\n    int result = left {op} right;\n    return result;\n}}\n",
    (
        "#include <vector>\n\n"
        "long long {name}(const std::vector<int>& values) {{\n"
        "    long long acc = {k};\n"
        "    for (int item : values) {{\n"
        "        acc {op}= item;\n"
        "    }}\n"
        "    return acc;\n"
        "}}\n"
    ),
    (
        "#include <string>\n\n"
        "std::string {name}(const std::string& text) {{\n"
        "    std::string out;\n"
        "    for (char c : text) {{\n"
        "        if (c != '{ch}') {{\n"
        "            out.push_back(c);\n"
        "        }}\n"
        "    }}\n"
        "    return out;\n"
        "}}\n"
    ),
    (
        "struct {Name} {{\n"
        "    int count;\n"
        "    int scale;\n"
        "    int total() const {{\n"
        "        return count {op} scale * {k};\n"
        "    }}\n"
        "}};\n"
    ),
    (
        "int {name}(int n) {{\n"
        "    if (n <= {k}) {{\n"
        "        return n;\n"
        "    }}\n"
        "    return {name}(n - 1) {op} {name}(n - 2);\n"
        "}}\n"
    ),
    (
        "#include <algorithm>\n#include <vector>\n\n"
        "int {name}(std::vector<int> data) {{\n"
        "    std::sort(data.begin(), data.end());\n"
        "    if (data.empty()) {{\n"
        "        return {k};\n"
        "    }}\n"
        "    return data[data.size() / 2] {op} data.front();\n"
        "}}\n"
    ),
    (
        "double {name}(double value, double low, double high) {{\n"
        "    if (value < low) {{\n"
        "        return low * {k};\n"
        "    }}\n"
        "    if (value > high) {{\n"
        "        return high;\n"
        "    }}\n"
        "    return value;\n"
        "}}\n"
    ),
    (
        "unsigned {name}(unsigned first, unsigned second) {{\n"
        "    while (second != 0) {{\n"
        "        unsigned rest = first % second;\n"
        "        first = second;\n"
        "        second = rest {op} {k};\n"
        "    }}\n"
        "    return first;\n"
        "}}\n"
    ),
]
# Operators that are valid for every template's types (double has no %, ^, &, |).
DOUBLE_OPS = ["+", "-", "*", "+", "-", "*", "+", "-", "*", "+"]
BOOL_MUTATIONS = ["semicolon", "brace", "misspell", "return_type", "paren"]
KEYWORDS = {"int", "long", "double", "unsigned", "char", "const", "return", "if", "for", "while", "struct", "std"}


def intact_programs() -> list[str]:
    out = []
    for t_idx, template in enumerate(TEMPLATES):
        for p in range(8):
            name = NAMES[(p + t_idx) % len(NAMES)]
            op = (DOUBLE_OPS if "double" in template else OPS)[(p * 3 + t_idx) % len(OPS)]
            out.append(
                template.format(
                    name=name,
                    Name=name.title().replace("_", ""),
                    op=op,
                    k=p + t_idx % 3 + 1,
                    ch="abcdefghxyz"[p],
                )
            )
    return out


def mutate(code: str, kind: str, rng: random.Random) -> str:
    if kind == "semicolon":
        spots = [m.start() for m in re.finditer(";", code)]
        i = rng.choice(spots)
        return code[:i] + code[i + 1 :]
    if kind == "brace":
        i = code.rindex("}")
        return code[:i] + code[i + 1 :]
    if kind == "misspell":
        # A name that occurs more than once (declared, then used): misspell its last use.
        body = "\n".join(line for line in code.splitlines() if not line.startswith("#"))
        counts: dict[str, int] = {}
        for tok in re.findall(r"\b[A-Za-z_]\w+\b", body):
            counts[tok] = counts.get(tok, 0) + 1
        candidates = sorted(t for t, c in counts.items() if c >= 2 and len(t) >= 3)
        tok = rng.choice(candidates)
        j = rng.randrange(1, len(tok) - 1)
        typo = tok[:j] + tok[j + 1] + tok[j] + tok[j + 2 :]
        if typo == tok or typo in counts:
            typo = tok[:j] + tok[j + 1 :]
        last = list(re.finditer(rf"\b{re.escape(tok)}\b", code))[-1]
        return code[: last.start()] + typo + code[last.end() :]
    if kind == "return_type":
        m = re.search(r"^(\s*)(?:long long|std::string|unsigned|double|int) (\w+\()", code, re.MULTILINE)
        assert m is not None
        return code[: m.start()] + m.group(1) + m.group(2) + code[m.end() :]
    if kind == "paren":
        if rng.random() < 0.5:
            spots = [m.start() for m in re.finditer(r"\)", code)]
            i = rng.choice(spots)
            return code[:i] + code[i + 1 :]
        spots = [m.start() for m in re.finditer(r"\(", code)]
        i = rng.choice(spots)
        return code[:i] + "(" + code[i:]
    raise AssertionError(kind)


def broken_programs(intact: list[str], seed: int = 7) -> list[str]:
    rng = random.Random(seed)
    return [mutate(code, BOOL_MUTATIONS[i % len(BOOL_MUTATIONS)], rng) for i, code in enumerate(intact)]


@pytest.fixture(scope="module")
def dataset() -> tuple[list[str], list[bool], list[str], list[str]]:
    intact = intact_programs()
    broken = broken_programs(intact)
    assert all(b != i for b, i in zip(broken, intact, strict=True))
    texts = intact + broken
    labels = label_with_verifier(texts, workers=2)
    return texts, labels, intact, broken


@pytest.fixture(scope="module")
def split(
    dataset: tuple[list[str], list[bool], list[str], list[str]],
) -> tuple[list[str], list[bool], list[str], list[bool]]:
    texts, labels, _, _ = dataset
    return split_train_test(texts, labels, test_fraction=0.3, seed=0)


@pytest.fixture(scope="module")
def trained(split: tuple[list[str], list[bool], list[str], list[bool]]) -> ProxyClassifier:
    train_texts, train_labels, _, _ = split
    return train_proxy(train_texts, train_labels, seed=0, epochs=20, trained_on="test_proxy synthetic set")


# ---------------------------------------------------------------------------------------------
# Tests
# ---------------------------------------------------------------------------------------------


def test_labels_follow_construction(dataset: tuple[list[str], list[bool], list[str], list[str]]) -> None:
    _, labels, intact, broken = dataset
    n = len(intact)
    assert n >= 60 and len(broken) == n
    intact_labels = labels[:n]
    broken_labels = labels[n:]
    assert all(intact_labels), [c for c, ok in zip(intact, intact_labels, strict=True) if not ok]
    assert sum(not ok for ok in broken_labels) >= 0.9 * n


def test_held_out_quality(trained: ProxyClassifier, split: tuple[list[str], list[bool], list[str], list[bool]]) -> None:
    _, _, test_texts, test_labels = split
    metrics = evaluate(trained, test_texts, test_labels)
    majority = max(metrics["positive_rate"], 1 - metrics["positive_rate"])
    print(f"held-out: {json.dumps(metrics)} (majority baseline {majority:.3f})")
    assert metrics["n"] == len(test_texts) >= 30
    assert metrics["auc"] >= 0.8
    assert metrics["accuracy"] > majority
    assert trained.metadata["metrics"]["train"]["auc"] >= metrics["auc"] - 0.2


def test_save_load_round_trip(
    trained: ProxyClassifier, split: tuple[list[str], list[bool], list[str], list[bool]], tmp_path: Path
) -> None:
    _, _, test_texts, _ = split
    path = trained.save(tmp_path / "proxy")
    manifest = json.loads((path / MANIFEST_NAME).read_text())
    assert manifest["format_version"] == FORMAT_VERSION
    assert manifest["feature_config"] == FeatureConfig().to_dict()
    meta = manifest["metadata"]
    for key in ("n_samples", "positive_rate", "seed", "metrics", "created_at", "trained_on"):
        assert key in meta
    assert meta["trained_on"] == "test_proxy synthetic set"
    loaded = ProxyClassifier.load(path)
    assert loaded.weights.dtype == np.float32
    assert np.array_equal(loaded.weights, trained.weights)
    assert loaded.bias == trained.bias
    assert loaded.score_many(test_texts) == trained.score_many(test_texts)


def test_version_mismatch_and_corruption_raise(trained: ProxyClassifier, tmp_path: Path) -> None:
    path = trained.save(tmp_path / "proxy")
    manifest_path = path / MANIFEST_NAME
    manifest = json.loads(manifest_path.read_text())
    manifest["format_version"] = FORMAT_VERSION + 1
    manifest_path.write_text(json.dumps(manifest))
    with pytest.raises(ValueError, match="format_version"):
        ProxyClassifier.load(path)

    path2 = trained.save(tmp_path / "proxy2")
    with open(path2 / "weights.npz", "ab") as fh:
        fh.write(b"junk")
    with pytest.raises(ValueError, match="checksum"):
        ProxyClassifier.load(path2)
    with pytest.raises(ValueError, match="no proxy artifact"):
        ProxyClassifier.load(tmp_path / "nothing")


def test_determinism(split: tuple[list[str], list[bool], list[str], list[bool]], trained: ProxyClassifier) -> None:
    train_texts, train_labels, _, _ = split
    again = train_proxy(train_texts, train_labels, seed=0, epochs=20)
    assert np.array_equal(again.weights, trained.weights)
    assert again.bias == trained.bias
    other = train_proxy(train_texts, train_labels, seed=1, epochs=20)
    assert not np.array_equal(other.weights, trained.weights)


def test_scoring_speed(trained: ProxyClassifier, dataset: tuple[list[str], list[bool], list[str], list[str]]) -> None:
    texts = dataset[0]
    rng = random.Random(0)
    candidates = []
    for _ in range(1000):
        text = ""
        while len(text) < 300:
            text += rng.choice(texts)
        candidates.append(text[:300])
    scorer = ProxyScorer(trained)
    scorer(candidates[:10])  # warm-up
    start = time.perf_counter()
    scores = scorer(candidates)
    per_item_ms = (time.perf_counter() - start) * 1000 / len(candidates)
    print(f"scoring: {per_item_ms:.3f} ms per 300-char candidate")
    assert len(scores) == 1000 and all(0.0 <= s <= 1.0 for s in scores)
    assert per_item_ms < 2.0


def test_scorer_ranks_and_preprocesses(trained: ProxyClassifier) -> None:
    good = "int add(int a, int b) {\n    return a + b;\n}\n"
    bad = "int add(int a, int b) {\n    return a + b\n"
    scorer = ProxyScorer(trained)
    assert scorer([good, bad]) == [trained.score(good), trained.score(bad)]
    assert scorer.rank([bad, good]) == [1, 0]
    stripped = ProxyScorer(trained, preprocess=lambda s: s.split("</think>")[-1])
    assert stripped(["some thoughts</think>" + good]) == [trained.score(good)]


# ---------------------------------------------------------------------------------------------
# Pieces
# ---------------------------------------------------------------------------------------------


def test_hash_is_stable_and_vectorised_matches_reference() -> None:
    # Pinned values: a changed hash would silently invalidate every saved artifact.
    assert ngram_hash("ab") == 2563531789
    text = "int f() { return 1; } // é"
    got = sorted(ngram_hashes(text, 2, 5).tolist())
    want = sorted(ngram_hash(text[i : i + n]) for n in range(2, 6) for i in range(len(text) - n + 1))
    assert got == want
    assert ngram_hashes("a", 2, 5).shape == (0,)


def test_features_are_sparse_normalised_and_stable() -> None:
    f = Featurizer()
    idx, vals = f.transform("int main() { return 0; }")
    assert idx.dtype == np.int64 and vals.dtype == np.float32
    assert np.all(np.diff(idx) > 0) and idx.min() >= 0 and idx.max() < f.config.n_buckets
    assert abs(float(np.linalg.norm(vals)) - 1.0) < 1e-5
    idx2, vals2 = Featurizer().transform("int main() { return 0; }")
    assert np.array_equal(idx, idx2) and np.array_equal(vals, vals2)
    texts = ["int main() { return 0; }", "", "f(int a) { return a }"]
    clf = ProxyClassifier(np.linspace(-1, 1, f.config.n_buckets, dtype=np.float32), 0.25)
    batch = f.transform_many(texts)
    assert batch.n_rows == 3
    assert np.allclose(batch.dot(clf.weights, clf.bias), [clf.decision(t) for t in texts], atol=1e-5)
    empty_idx, empty_vals = f.transform("")
    assert np.isfinite(empty_vals).all()
    assert empty_idx.shape == empty_vals.shape


def test_structural_features() -> None:
    ok = structural_features('int f(int a) {\n  const char* s = "{ (";\n  return a;\n}\n')
    assert {"brace:0", "paren:0", "ends_with_brace", "undeclared:0"} <= set(ok)
    assert "unterminated_literal" not in ok and "return_unterminated" not in ok
    bad = structural_features('int f(int a) {\n  const char* s = "oops;\n  return a\n')
    assert "brace:1" in bad and "unterminated_literal" in bad and "ends_without_brace" in bad
    assert "return_unterminated" in structural_features("int f(int a) { return a }")
    assert "def_without_type" in structural_features("f(int a) { return a; }")
    assert "def_without_type" not in structural_features("struct P { int x; P(int y) : x(y) {} };")
    assert "undeclared:1" in structural_features("int f(int value) { return valeu; }")
    assert structural_features("int f() { return 0; } // ü")["non_ascii_frac"] > 0


def test_roc_auc_handles_ties() -> None:
    assert roc_auc([0.1, 0.2, 0.3, 0.4], [False, False, True, True]) == 1.0
    assert roc_auc([0.4, 0.3, 0.2, 0.1], [False, False, True, True]) == 0.0
    assert roc_auc([0.5, 0.5, 0.5, 0.5], [False, True, False, True]) == 0.5
    assert roc_auc([0.1, 0.5, 0.5, 0.9], [False, False, True, True]) == pytest.approx(0.875)
    assert np.isnan(roc_auc([0.1, 0.2], [True, True]))


def test_split_is_deterministic_and_stratified() -> None:
    texts = [f"t{i}" for i in range(40)]
    labels = [i % 4 == 0 for i in range(40)]
    a = split_train_test(texts, labels, test_fraction=0.25, seed=3)
    b = split_train_test(texts, labels, test_fraction=0.25, seed=3)
    c = split_train_test(texts, labels, test_fraction=0.25, seed=4)
    assert a == b and a != c
    assert sorted(a.train_texts + a.test_texts) == sorted(texts)
    assert len(a.test_texts) == 10 and sum(a.test_labels) == 2
    with pytest.raises(ValueError):
        split_train_test(texts, labels, test_fraction=1.0)


def test_label_with_verifier_order_and_infra_errors() -> None:
    codes = ["int f() { return 1; }", "int f() { return 1 }", "int g(int x) { return x * 2; }"]
    assert label_with_verifier(codes, workers=2) == [True, False, True]

    class Infra:
        compile_ok = False
        infra_error = "sandbox exploded"

    with pytest.raises(RuntimeError, match="sample 0"):
        label_with_verifier(["int x;"], verify=lambda *a, **k: Infra())


def test_train_rejects_bad_input() -> None:
    with pytest.raises(ValueError):
        train_proxy(["a"], [True, False])
    with pytest.raises(ValueError):
        train_proxy([], [])
    with pytest.raises(ValueError):
        FeatureConfig(ngram_min=3, ngram_max=2)
    with pytest.raises(ValueError):
        FeatureConfig.from_dict({"ngram_min": 2, "bogus": 1})

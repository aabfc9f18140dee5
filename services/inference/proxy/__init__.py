"""A small learned proxy of the verifier: P(compiles) from the candidate's text, in microseconds.

Best-of-N ranking wants to drop the candidates that will not even compile before paying for the
real verifier. This package trains a logistic regression on samples labelled by the real verifier
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

Modules: `features` (hashing, structural hints, the featurizer), `classifier` (scoring and the
artifact), `fit` (training), `evaluation` (ROC AUC, split), `labelling` (labels from the real
verifier, the best-of-N scorer), `honesty` (whether its figures mean anything), `training` (sampling
the model and training end to end).

Artifact layout (`ProxyClassifier.save`): a directory holding ``weights.npz`` (``weights``
float32 of shape ``(n_buckets,)`` and ``bias`` float32 of shape ``(1,)``) and ``manifest.json``
(``kind``, ``format_version``, feature config, training metadata and the weights' sha256).
`ProxyClassifier.load` refuses any other ``format_version`` with a ValueError.

`cppforge train-proxy` records the content hash of the model whose samples it learned from
(``metadata.model_sha256``, the adapter registry's `model_content_hash`), and
`ProxyClassifier.load(path, model_sha256=...)` refuses a proxy of another model with
ProxyModelMismatchError (an artifact without the hash loads with a warning). `honesty` flags a
proxy no better than the majority class or judged on too few samples of a class; such a proxy does
not replace one whose manifest records a better result unless forced.
"""

from .classifier import ClassWeight, ProxyClassifier, ProxyModelMismatchError
from .evaluation import Split, evaluate, roc_auc, split_train_test
from .features import (
    ARTIFACT_KIND,
    FORMAT_VERSION,
    MANIFEST_NAME,
    WEIGHTS_NAME,
    FeatureConfig,
    Featurizer,
    SparseBatch,
    SparseVector,
    ngram_hash,
    ngram_hashes,
    structural_features,
)
from .fit import train_proxy
from .labelling import LabellingError, ProxyScorer, label_with_verifier

__all__ = [
    "ARTIFACT_KIND", "FORMAT_VERSION", "MANIFEST_NAME", "WEIGHTS_NAME", "ClassWeight", "FeatureConfig", "Featurizer",
    "LabellingError", "ProxyClassifier", "ProxyModelMismatchError", "ProxyScorer", "SparseBatch", "SparseVector",
    "Split", "evaluate", "label_with_verifier", "ngram_hash", "ngram_hashes", "roc_auc", "split_train_test",
    "structural_features", "train_proxy",
]  # fmt: skip

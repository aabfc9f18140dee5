"""The proxy's logistic regression: scoring, the versioned artifact, training."""

from __future__ import annotations

import hashlib
import json
import logging
import math
import os
import tempfile
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt

from .features import (
    ARTIFACT_KIND,
    FORMAT_VERSION,
    MANIFEST_NAME,
    WEIGHTS_NAME,
    FeatureConfig,
    Featurizer,
)

log = logging.getLogger(__name__)

ModelHash = str | Callable[[], str | None]
"""The served model's content hash, or a function giving it (None: it cannot be hashed)."""


class ProxyModelMismatchError(ValueError):
    """The proxy learned from another model's samples: it would rank this model's candidates wrongly."""


def sigmoid(z: npt.NDArray[np.floating[Any]]) -> npt.NDArray[np.float64]:
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

    @property
    def model_sha256(self) -> str | None:
        """The content hash of the model whose samples trained it (`cppforge train-proxy` records it)."""
        value = self.metadata.get("model_sha256")
        return value if isinstance(value, str) else None

    @classmethod
    def load(cls, path: Path | str, *, model_sha256: ModelHash | None = None) -> ProxyClassifier:
        """Read an artifact written by `save`; ValueError if it is not one this code can read.

        With `model_sha256` (the served model's content hash, or a function computing it, called only
        when the manifest records one) a proxy trained on another model's samples raises
        ProxyModelMismatchError; an older artifact that records no hash loads with a warning.
        """
        clf = cls._read(Path(path))
        if model_sha256 is not None:
            clf.check_model(model_sha256, where=Path(path))
        return clf

    def check_model(self, model_sha256: ModelHash, *, where: Path | str = "the proxy") -> None:
        """ProxyModelMismatchError when the recorded model hash is not `model_sha256`."""
        recorded = self.model_sha256
        if recorded is None:
            log.warning(
                "proxy %s records no model hash (an artifact from before hashes were recorded): loaded without "
                "checking that it was trained for this model; retrain it with `cppforge train-proxy`",
                where,
            )
            return
        served = model_sha256() if callable(model_sha256) else model_sha256
        if served is None:
            log.warning("proxy %s: the served model cannot be hashed, so the proxy is loaded unchecked", where)
        elif served != recorded:
            raise ProxyModelMismatchError(
                f"proxy {where} was trained on samples of another model (sha256 {recorded[:12]}, "
                f"{self.metadata.get('model_path', 'path unknown')}) than the one served (sha256 {served[:12]}); "
                "retrain it for this model with `cppforge train-proxy --model <dir>`"
            )

    @classmethod
    def _read(cls, path: Path) -> ProxyClassifier:
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

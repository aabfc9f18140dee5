"""An eval run's settings, checked once (a ValueError names the bad one) before anything is loaded."""

from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path

from ...tasks.sets import HUMANEVAL_CPP_FILE
from ...verifier.core.flags import validate_std
from .passk import check_ks
from .samplers import SamplingSpec

DEFAULT_TASKS = HUMANEVAL_CPP_FILE
MAX_TIMEOUT_S = 120.0  # the verifier's own cap on a run's deadline


@dataclass(frozen=True, kw_only=True)
class EvalConfig:
    tasks_path: Path = DEFAULT_TASKS
    model_path: str | None = None  # local HF model dir; None: the bootstrap model (unless inference_url)
    adapter_dir: str | None = None  # a PEFT adapter on top of model_path (in-process only)
    n: int = 10
    ks: tuple[int, ...] = (1, 5)
    out_dir: Path | None = None
    inference_url: str = ""  # sample through this service's /v1/completions instead of in-process
    model_name: str | None = None  # the served model or adapter to ask for (inference_url only)
    api_key: str = ""
    verifier_url: str = ""  # judge through this verifier service instead of in-process
    temperature: float = 0.8
    top_p: float = 0.95
    max_tokens: int = 512
    seed: int = 0
    limit: int | None = None  # the first N tasks of the file
    std: str = "c++17"
    timeout_s: float = 10.0  # deadline of one program's run
    workers: int = 2  # in-process verifications at once
    threads: int = 1  # torch CPU threads for in-process sampling (see samplers.py)
    trim_prompt_newline: bool = True  # see samplers.py

    def __post_init__(self) -> None:
        object.__setattr__(self, "ks", check_ks(self.ks, self.n))
        _check_number("temperature", self.temperature, low=0.0)
        _check_number("top_p", self.top_p, low=0.0, high=1.0, low_open=True)
        _check_int("max_tokens", self.max_tokens, low=1)
        _check_int("seed", self.seed, low=0)
        _check_int("workers", self.workers, low=1)
        _check_int("threads", self.threads, low=1)
        if self.limit is not None:
            _check_int("limit", self.limit, low=1)
        _check_number("timeout_s", self.timeout_s, low=0.0, high=MAX_TIMEOUT_S, low_open=True)
        validate_std(self.std)
        if self.inference_url and self.model_path:
            raise ValueError("give either a local model (--model) or an inference service (--inference-url), not both")
        if self.inference_url and self.adapter_dir:
            raise ValueError("--adapter is a local adapter; with --inference-url name a served one (--model-name)")
        if self.model_name and not self.inference_url:
            raise ValueError("--model-name picks a served model and needs --inference-url (local: --model DIR)")
        if self.api_key and not self.inference_url:
            raise ValueError("--api-key is for the inference service (--inference-url)")
        if self.model_path and not Path(self.model_path).expanduser().is_dir():
            raise ValueError(f"model path is not a directory: {self.model_path}")
        if self.adapter_dir and not (Path(self.adapter_dir).expanduser() / "adapter_config.json").is_file():
            raise ValueError(f"no adapter_config.json in {self.adapter_dir}: not a saved PEFT adapter")
        if not Path(self.tasks_path).is_file():
            raise ValueError(f"{self.tasks_path}: no such problem file")
        if self.out_dir is not None:
            # Checked before the model loads; a file in the way (here or above) would fail only at the end of loading.
            up = next((p for p in (self.out_dir, *self.out_dir.parents) if p.exists()), None)
            if up is not None and not up.is_dir():
                raise ValueError(f"--out {self.out_dir}: {up} is a file, not a directory")

    def sampling(self) -> SamplingSpec:
        return SamplingSpec(n=self.n, temperature=self.temperature, top_p=self.top_p, max_tokens=self.max_tokens,
                            seed=self.seed, trim_prompt_newline=self.trim_prompt_newline)  # fmt: skip


def _check_int(name: str, value: object, *, low: int) -> None:
    if isinstance(value, bool) or not isinstance(value, int) or value < low:
        raise ValueError(f"{name} must be an integer >= {low}, got {value!r}")


def _check_number(name: str, value: object, *, low: float, high: float | None = None, low_open: bool = False) -> None:
    ok = isinstance(value, int | float) and not isinstance(value, bool) and math.isfinite(value)
    if ok:
        assert isinstance(value, int | float)
        ok = (value > low if low_open else value >= low) and (high is None or value <= high)
    if not ok:
        bounds = f"{'(' if low_open else '['}{low:g}, {'inf)' if high is None else f'{high:g}]'}"
        raise ValueError(f"{name} must be a finite number in {bounds}, got {value!r}")

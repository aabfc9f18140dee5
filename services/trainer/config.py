"""TrainConfig: every knob of a verifier-grounded RL (or SFT) run, and the recipes that preset them.

A recipe is a named set of overrides on the defaults; `recipe_config("production", steps=50)`
gives the production recipe with one field changed. Field docs are the `help` metadata, so the
CLI, the jobs API and the README read the same text.
"""

from __future__ import annotations

import dataclasses
import math
import os
from dataclasses import dataclass, field
from typing import Any, Literal
from urllib.parse import urlsplit

from ..common.settings import DEFAULT_INFERENCE_URL

Method = Literal["gspo", "grpo", "sft", "distill"]
RewardKind = Literal["plain", "shaped"]


def _f(default: Any, help: str) -> Any:
    return field(default=default, metadata={"help": help})


@dataclass
class TrainConfig:
    # -- what is trained -------------------------------------------------------------------------
    method: Method = _f(  # noqa: RUF009
        "gspo",
        "gspo: sequence-level ratio; grpo: token-level ratio; sft: cross-entropy on data; "
        "distill: KD from a teacher (or DCD: the model itself with a longer context)",
    )
    model: str = _f("", "local HF model directory; empty: the bootstrap model (built on first use)")
    lora: bool = _f(True, "train a LoRA adapter (PEFT) instead of every weight")
    lora_rank: int = _f(8, "LoRA rank")
    lora_alpha: int = _f(16, "LoRA alpha (scale = alpha / rank)")
    lora_dropout: float = _f(0.0, "LoRA dropout")
    lora_targets: str = _f("mlp", "mlp: the MLP projections (+ Mamba projections where present); all: attention too")
    quantize_nf4: bool = _f(True, "NF4 base weights when bitsandbytes and CUDA are both present (else full precision)")
    # -- the data --------------------------------------------------------------------------------
    dataset: str = _f("", "JSONL problem set (HumanEval-X fields); empty: the seeded generator's training tasks")
    task_seed: int = _f(1, "seed of the generated training tasks")
    num_tasks: int = _f(2000, "number of generated training tasks (ignored with a dataset)")
    heldout_tasks: int = _f(100, "held-out tasks scored before and after training (0: skip)")
    heldout_seed: int = _f(4242, "seed of the held-out tasks")
    heldout_samples: int = _f(4, "sampled completions per held-out task (plus one greedy)")
    # -- rollouts ------------------------------------------------------------------------------
    group_size: int = _f(8, "completions per prompt (the GRPO group)")
    prompts_per_step: int = _f(2, "groups per optimizer step (per process)")
    temperature: float = _f(1.0, "sampling temperature of rollouts and of the sampled held-out score")
    top_p: float = _f(1.0, "nucleus sampling of rollouts")
    max_gen_len: int = _f(512, "most tokens per completion")
    # -- reward ----------------------------------------------------------------------------------
    reward: RewardKind = _f("plain", "plain: compute_reward; shaped: CompilerRewardShaper")  # noqa: RUF009
    std: str = _f("c++17", "C++ standard the verifier compiles with")
    verify_timeout_s: float = _f(10.0, "verifier time limit per program")
    # -- loss ----------------------------------------------------------------------------------
    kl_coeff: float = _f(0.1, "beta: weight of the k3 KL to the reference model (0: no reference)")
    clip_eps: float = _f(0.2, "GRPO (token) clip range, low side")
    clip_eps_high: float = _f(0.2, "GRPO (token) clip range, high side (DAPO's clip-higher uses 0.28)")
    gspo_clip_low: float = _f(3e-4, "GSPO (sequence) clip range, low side")
    gspo_clip_high: float = _f(4e-4, "GSPO (sequence) clip range, high side")
    luspo: bool = _f(True, "LUSPO: weight each sequence's loss by its length (sum over tokens)")
    dapo_discard: bool = _f(True, "DAPO: drop groups whose rewards are all equal, refill from new prompts")
    dapo_max_refills: int = _f(4, "at most this many extra groups sampled per step to replace discarded ones")
    # -- StepCoder -----------------------------------------------------------------------------
    cccs: bool = _f(True, "CCCS: start from the prompt plus a prefix of the known solution")
    cccs_initial_prefix_frac: float = _f(0.7, "CCCS: fraction of the known solution given at the start")
    cccs_decay_step: float = _f(0.1, "CCCS: how much the fraction shrinks at a time")
    cccs_decay_threshold: float = _f(0.6, "CCCS: shrink when a group's compile rate exceeds this")
    cccs_min_prefix_frac: float = _f(0.0, "CCCS: the fraction never goes below this")
    fgo: bool = _f(True, "FGO: mask tokens after the first compiler error out of the loss")
    # -- optimisation ----------------------------------------------------------------------------
    lr: float = _f(
        1e-3,
        "AdamW learning rate (8 CPU minutes on the bootstrap model: 1e-3 moved held-out compile +9 points, 3e-4 +2)",
    )
    weight_decay: float = _f(0.0, "AdamW weight decay")
    grad_clip: float = _f(1.0, "clip the global gradient norm to this (0: off)")
    grad_accum: int = _f(1, "rollout batches per optimizer step")
    ppo_epochs: int = _f(1, "optimizer passes over each rollout batch (ratios differ from 1 after the first)")
    bf16: bool = _f(True, "bf16 autocast on CUDA (ignored on CPU)")
    seed: int = _f(0, "seeds python, numpy, torch and the rollouts")
    # -- length of the run -----------------------------------------------------------------------
    steps: int = _f(0, "stop after this many optimizer steps (0: no limit)")
    minutes: float = _f(0.0, "stop after this many minutes of training (0: no limit); held-out scoring not counted")
    checkpoint_every: int = _f(25, "save a resumable checkpoint every N steps (and at the end)")
    # -- SFT -------------------------------------------------------------------------------------
    sft_data: str = _f("", "sft: JSONL of {prompt, completion} rows (e.g. best-of-N picks)")
    sft_batch_size: int = _f(8, "sft and distill: rows per step")
    # -- distillation (method distill) ---------------------------------------------------------------
    teacher: str = _f("", "distill: local HF teacher model dir (same vocabulary); empty with dcd: the own base")
    dcd: bool = _f(False, "distill: DCD, the teacher is the student's own base fed a longer context window")
    dcd_student_context: int = _f(64, "distill/dcd: prompt tokens the student sees (the teacher sees the whole prompt)")
    distill_alpha: float = _f(0.5, "distill: weight of the soft KL term (1 - alpha on the hard cross-entropy)")
    distill_temperature: float = _f(2.0, "distill: softmax temperature T of both models (the KL is scaled by T^2)")
    distill_feature_weight: float = _f(0.0, "distill: weight of the cosine loss on hidden states (0: off)")
    distill_feature_layers: str = _f(
        "", "distill: blocks whose hidden states are matched: 1,3 (same index in both) or 1:2,3:5 (student:teacher)"
    )
    # -- services --------------------------------------------------------------------------------
    verifier_url: str = _f("", "verifier service URL for rewards; empty: verify in-process")
    inference_url: str = _f("", "inference service URL for rollouts; empty: sample in-process")
    inference_api_key: str = _f(
        "",
        "API key for the inference service, if it asks for one (keyed: an admin key, it also pushes adapters); "
        "empty: $CPPFORGE_INFERENCE_API_KEY",
    )
    sync_every: int = _f(1, "http rollouts: push the adapter to the inference service every N steps")
    verify_workers: int = _f(2, "in-process verification threads")
    overlap: bool = _f(True, "verify one group while the next one is being generated")
    threads: int = _f(
        0,
        "torch CPU threads (0: 1 on CPU, where generation ran 4.5x faster than on 2 threads of a busy "
        "2-core machine and verification gets the other core; torch's default on CUDA)",
    )
    device: str = _f("auto", "auto | cpu | cuda | cuda:N")

    def __post_init__(self) -> None:
        check_config(self)

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)

    def replace(self, **overrides: Any) -> TrainConfig:
        return apply_overrides(self, overrides)


def field_help() -> dict[str, str]:
    return {f.name: f.metadata.get("help", "") for f in dataclasses.fields(TrainConfig)}


def check_config(cfg: TrainConfig) -> None:
    """ValueError naming the field for any value a run could not use."""
    problems: list[str] = []
    # inf and nan slip past every comparison below (nan < 0 is False) and reach AdamW or the sampler
    problems += [
        f"{f.name} must be a finite number, not {getattr(cfg, f.name)}"
        for f in dataclasses.fields(cfg)
        if isinstance(getattr(cfg, f.name), float) and not math.isfinite(getattr(cfg, f.name))
    ]
    if cfg.method not in ("gspo", "grpo", "sft", "distill"):
        problems.append(f"method must be gspo, grpo, sft or distill, not {cfg.method!r}")
    if cfg.reward not in ("plain", "shaped"):
        problems.append(f"reward must be plain or shaped, not {cfg.reward!r}")
    if cfg.lora_targets not in ("mlp", "all"):
        problems.append(f"lora_targets must be mlp or all, not {cfg.lora_targets!r}")
    positive: tuple[str, ...] = (
        "group_size",
        "prompts_per_step",
        "max_gen_len",
        "lora_rank",
        "grad_accum",
        "ppo_epochs",
    )
    positive += ("checkpoint_every", "sft_batch_size", "sync_every", "verify_workers", "heldout_samples")
    problems += [f"{name} must be at least 1" for name in positive if getattr(cfg, name) < 1]
    non_negative: tuple[str, ...] = ("kl_coeff", "clip_eps", "clip_eps_high", "gspo_clip_low", "gspo_clip_high", "lr")
    non_negative += ("weight_decay", "grad_clip", "steps", "minutes", "heldout_tasks", "dapo_max_refills", "threads")
    problems += [f"{name} must be >= 0" for name in non_negative if getattr(cfg, name) < 0]
    if cfg.method == "distill" and not cfg.teacher and not cfg.dcd:
        problems.append("method distill needs a teacher (a model dir) or dcd=true (the model itself, longer context)")
    if not 0 <= cfg.distill_alpha <= 1:
        problems.append("distill_alpha must be in [0, 1]")
    if cfg.distill_temperature <= 0:
        problems.append("distill_temperature must be > 0")
    if cfg.distill_feature_weight < 0:
        problems.append("distill_feature_weight must be >= 0")
    try:
        layers = parse_feature_layers(cfg.distill_feature_layers)
    except ValueError as exc:
        problems.append(f"distill_feature_layers: {exc}")
    else:
        if cfg.distill_feature_weight > 0 and not layers:
            problems.append("distill_feature_weight > 0 needs distill_feature_layers (the blocks to match)")
    if cfg.dcd_student_context < 1:
        problems.append("dcd_student_context must be at least 1")
    if cfg.method not in ("sft", "distill") and cfg.group_size < 2:
        problems.append("group_size must be at least 2 (advantages compare completions of one prompt)")
    if cfg.temperature <= 0:
        problems.append("temperature must be > 0 for rollouts")
    if not 0 < cfg.top_p <= 1:
        problems.append("top_p must be in (0, 1]")
    for name in ("cccs_initial_prefix_frac", "cccs_min_prefix_frac", "cccs_decay_threshold"):
        if not 0 <= getattr(cfg, name) <= 1:
            problems.append(f"{name} must be in [0, 1]")
    if cfg.cccs_min_prefix_frac > cfg.cccs_initial_prefix_frac:
        problems.append("cccs_min_prefix_frac must not exceed cccs_initial_prefix_frac")
    if not 0 <= cfg.cccs_decay_step <= 1:
        problems.append("cccs_decay_step must be in [0, 1]")
    if cfg.verify_timeout_s <= 0:
        problems.append("verify_timeout_s must be > 0")
    if cfg.method == "sft" and not cfg.sft_data:
        problems.append(
            "method sft needs sft_data: --set sft_data=FILE, a JSONL of prompt/completion rows "
            "(e.g. written by `cppforge bon-data --out FILE`)"
        )
    if problems:
        raise ValueError("; ".join(problems))


# The seed's production recipe is the dataclass defaults; the others override a few fields.
RECIPES: dict[str, dict[str, Any]] = {
    "production": {},
    "grpo": {"method": "grpo", "luspo": False, "clip_eps": 0.2, "clip_eps_high": 0.2},
    "sft": {"method": "sft", "cccs": False, "fgo": False, "dapo_discard": False, "kl_coeff": 0.0, "lr": 3e-4},
    "distill": {"method": "distill", "cccs": False, "fgo": False, "dapo_discard": False, "kl_coeff": 0.0, "lr": 3e-4},
}


def parse_feature_layers(text: str) -> tuple[tuple[int, int], ...]:
    """ "1,3" -> ((1, 1), (3, 3)); "1:2,3:5" pairs student block 1 with teacher block 2, 3 with 5."""
    pairs: list[tuple[int, int]] = []
    for item in (part.strip() for part in text.split(",")):
        if not item:
            continue
        student, _, teacher = item.partition(":")
        try:
            s = int(student)
            t = int(teacher) if teacher else s
        except ValueError:
            raise ValueError(f"feature layers are block indices like 1,3 or 1:2, not {item!r}") from None
        if s < 0 or t < 0:
            raise ValueError(f"feature layers are block indices >= 0, not {item!r}")
        pairs.append((s, t))
    return tuple(pairs)


def apply_overrides(cfg: TrainConfig, overrides: dict[str, Any]) -> TrainConfig:
    """A copy of `cfg` with `overrides`; unknown names and wrong types are a ValueError naming them."""
    fields = {f.name: f for f in dataclasses.fields(TrainConfig)}
    unknown = sorted(set(overrides) - set(fields))
    if unknown:
        raise ValueError(f"unknown TrainConfig field(s): {', '.join(unknown)}")
    values = cfg.to_dict()
    for name, value in overrides.items():
        values[name] = _coerce(name, value, type(values[name]))
    return TrainConfig(**values)


def _coerce(name: str, value: Any, kind: type) -> Any:
    # JSON and the CLI give ints for floats and strings for everything: accept what is unambiguous.
    if kind is bool:
        if isinstance(value, bool):
            return value
        if isinstance(value, str) and value.lower() in ("true", "false", "1", "0", "yes", "no", "on", "off"):
            return value.lower() in ("true", "1", "yes", "on")
        raise ValueError(f"{name} must be true or false, not {value!r}")
    if kind is float and isinstance(value, int | float | str) and not isinstance(value, bool):
        try:
            return float(value)
        except ValueError:
            raise ValueError(f"{name} must be a number, not {value!r}") from None
    if kind is int and not isinstance(value, bool):
        if isinstance(value, int):
            return value
        if isinstance(value, str) and value.strip().lstrip("-").isdigit():
            return int(value)
        if isinstance(value, float) and value.is_integer():
            return int(value)
        raise ValueError(f"{name} must be an integer, not {value!r}")
    if kind is str and isinstance(value, str):
        return value
    raise ValueError(f"{name} must be a {kind.__name__}, not {value!r}")


def recipe_config(recipe: str, **overrides: Any) -> TrainConfig:
    if recipe not in RECIPES:
        raise ValueError(f"unknown recipe {recipe!r}; choose one of {', '.join(RECIPES)}")
    return apply_overrides(TrainConfig(), {**RECIPES[recipe], **overrides})


INFERENCE_KEY_ENV = "CPPFORGE_INFERENCE_API_KEY"
INFERENCE_URL_ENV = "CPPFORGE_INFERENCE_URL"


def _url_identity(url: str) -> tuple[str, str, int | None, str]:
    """(scheme, host, port, path) with the scheme's default port filled in and no trailing slash."""
    parts = urlsplit(url.strip())
    scheme = parts.scheme.lower()
    try:
        port = parts.port or {"http": 80, "https": 443}.get(scheme)
    except ValueError:  # a port that is not a number: matches nothing
        return ("", "", None, url)
    return scheme, (parts.hostname or "").lower(), port, parts.path.rstrip("/")


def inference_key_from_env(inference_url: str) -> str:
    """The rollouts' key from the environment: a service passes its key to its runs this way, so the secret is
    never written into a job's overrides (job.json, GET /v1/jobs). Only for the service's own inference
    service (CPPFORGE_INFERENCE_URL): a job that names another host gets no key, so it cannot send the
    service's secret there."""
    key = os.environ.get(INFERENCE_KEY_ENV, "")
    if not key or not inference_url:
        return ""
    own = os.environ.get(INFERENCE_URL_ENV) or DEFAULT_INFERENCE_URL
    return key if _url_identity(inference_url) == _url_identity(own) else ""

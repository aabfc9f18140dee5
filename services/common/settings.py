"""Settings read from `CPPFORGE_*` environment variables (pydantic-settings).

`CppforgeSettings` holds what every service shares (home, Redis, the services' URLs); each
service subclasses it with its own knobs. Built lazily through the cached getters, never at
import time, so importing a module never requires the environment to be set up.
"""

from __future__ import annotations

import os
import re
from functools import lru_cache
from pathlib import Path
from typing import Literal

from pydantic import Field, ValidationInfo, field_validator, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from .auth import TIER_NAMES, parse_api_keys, parse_rate_limits, parse_tier_counts
from .setting_checks import check_device, check_dtype, check_http_url, check_tier


def default_home() -> Path:
    return Path.home() / ".cache" / "cppforge"


DEFAULT_REDIS_URL = "redis://127.0.0.1:6379/0"
DEFAULT_VERIFIER_URL = "http://127.0.0.1:8001"
DEFAULT_INFERENCE_URL = "http://127.0.0.1:8002"


class CppforgeSettings(BaseSettings):
    """What every service shares; every field maps to `CPPFORGE_<NAME>`."""

    # protected_namespaces=(): InferenceSettings has a field named `model`.
    model_config = SettingsConfigDict(env_prefix="CPPFORGE_", extra="ignore", protected_namespaces=())

    home: Path = Field(default_factory=default_home, description="Cache root (models, PCH, runtime objects).")
    redis_url: str | None = Field(default=DEFAULT_REDIS_URL, description="Redis (result cache); empty disables.")
    verifier_url: str = Field(default=DEFAULT_VERIFIER_URL, description="The verifier service.")
    inference_url: str = Field(default=DEFAULT_INFERENCE_URL, description="The inference service.")
    registry_dir: Path | None = Field(
        default=None, description="Adapter registry (default $CPPFORGE_HOME/registry); trainer and inference share it."
    )

    @field_validator("verifier_url", "inference_url")
    @classmethod
    def _url(cls, value: str, info: ValidationInfo) -> str:
        if info.field_name == "verifier_url" and value == "local":  # the verl/TRL adapters verify in-process
            return value
        return check_http_url(value, f"CPPFORGE_{str(info.field_name).upper()}")

    @model_validator(mode="after")
    def _normalise(self) -> CppforgeSettings:
        self.home = self.home.expanduser().resolve()
        self.registry_dir = (self.registry_dir or self.home / "registry").expanduser().resolve()
        if self.redis_url is not None and not self.redis_url.strip():
            self.redis_url = None
        return self

    @property
    def registry_root(self) -> Path:
        assert self.registry_dir is not None  # set by the validator
        return self.registry_dir


@lru_cache(maxsize=1)
def get_settings() -> CppforgeSettings:
    return CppforgeSettings()


class VerifierSettings(CppforgeSettings):
    """Knobs of the verifier core."""

    allow_unsandboxed: bool = Field(
        default=False,
        description="Run untrusted code without bubblewrap when bwrap is missing. Never in production.",
    )
    compile_timeout_s: float = Field(default=30.0, gt=0, description="Deadline of one g++ build.")
    compile_memory_mb: int = Field(default=2048, ge=256, description="Memory cap of the g++ build.")
    run_memory_mb: int = Field(default=512, ge=16, description="Memory cap of the candidate's run.")
    run_max_processes: int = Field(default=32, ge=1, description="Processes/threads the run may hold.")
    output_cap_bytes: int = Field(default=64 * 1024, ge=1024, description="Cap on stdout and stderr each.")
    max_errors: int = Field(default=10, ge=1, le=100, description="g++ -fmax-errors.")
    scratch_mb: int = Field(default=16, ge=1, description="Writable scratch space of the run (tmpfs).")
    use_pch: bool = Field(default=True, description="Reuse precompiled headers of the code's leading includes.")
    pch_dir: Path | None = Field(default=None, description="PCH cache dir (default: see pch.default_pch_root).")
    pch_min_uses: int = Field(default=2, ge=1, description="Build a header set's PCH on its n-th sighting.")
    use_instances: bool = Field(
        default=True,
        description="Next to each PCH, prebuild the library classes candidates use most (std::vector<int>, ...) "
        "and compile eligible code against them with `extern template` (same verdicts; docs/verifier.md).",
    )
    pch_background: bool = Field(
        default=True,
        description="Build PCHs in one background thread (bounded queue): the request that makes a header set's "
        "PCH due compiles without it at once instead of waiting for the build; the requests after it use it.",
    )
    pch_eager_when_idle: bool = Field(
        default=True,
        description="With pch_background: queue a header set's PCH already on its first sighting when the "
        "background builder is idle (else on its pch_min_uses-th).",
    )
    pch_max_mb: int = Field(
        default=1024,
        ge=1,
        description="Cap on the PCH store's bytes on disk (MiB); a new PCH that cannot fit is not kept. "
        "A bits/stdc++.h PCH is ~100 MiB, a typical HumanEval-X header set ~25 MiB.",
    )


@lru_cache(maxsize=1)
def get_verifier_settings() -> VerifierSettings:
    return VerifierSettings()


class VerifierServiceSettings(CppforgeSettings):
    """The verifier HTTP service (`cppforge serve verifier`)."""

    verifier_host: str = Field(default="127.0.0.1", description="Bind address.")
    verifier_port: int = Field(default=8001, ge=1, le=65535, description="Port.")
    verifier_workers: int | None = Field(default=None, ge=1, description="Parallel verifications (default: cores).")
    verifier_max_queue: int = Field(default=256, ge=0, description="Verifications that may wait beyond the workers.")
    cache_ttl_s: int = Field(default=7 * 24 * 3600, ge=0, description="Cache entry lifetime (0: no expiry).")
    max_source_bytes: int = Field(default=1 << 20, ge=1024, description="Largest code or test_code accepted.")
    max_batch: int = Field(default=1024, ge=1, description="Most completions in one batch request.")
    prebuild_pch: bool = Field(
        default=True,
        description="At start-up, queue the PCHs of bits/stdc++.h and of the shipped problem sets' header sets "
        "(data/*.jsonl, most frequent first) for the background builder; readiness does not wait for them.",
    )
    self_test: bool = Field(
        default=True,
        description="At start-up, verify a known-good program; if it fails (a sandbox that cannot start), the "
        "service is unhealthy and refuses verifications (503) instead of scoring every program 0.",
    )


@lru_cache(maxsize=1)
def get_verifier_service_settings() -> VerifierServiceSettings:
    return VerifierServiceSettings()


class InferenceSettings(CppforgeSettings):
    """The inference service (`cppforge serve inference`)."""

    model: str | None = Field(default=None, description="Local HF model path; unset: the bootstrap model.")
    model_name: str = Field(default="cppforge-bootstrap", description="Model id reported by /v1/models.")
    proxy_path: Path | None = Field(default=None, description="Proxy classifier artifact (default under home).")
    inference_host: str = Field(default="127.0.0.1", description="Bind address.")
    inference_port: int = Field(default=8002, ge=1, le=65535, description="Port.")
    api_keys: str | None = Field(default=None, description='"key1:free,key2:pro,key3:dev"; unset: open, local.')
    admin_keys: str | None = Field(
        default=None,
        description='"k1,k2": keys that may load, activate and unload adapters (needed once any key is set); '
        "one not also in api_keys generates with the train tier.",
    )
    adapter_dirs: str | None = Field(
        default=None,
        description="Directories (os.pathsep-separated) adapter `path` loads must resolve inside; unset: home.",
    )
    open_tier: str = Field(default="dev", description="Tier of every caller when no API keys are set.")
    rate_limits: str | None = Field(default=None, description='Override requests/minute per tier: "free:2,pro:60".')
    max_sequences: str | None = Field(
        default=None,
        description='Override per tier the sequences (candidate rows) queued or decoding at once: "free:4,dev:16" '
        "(services/inference/admission.py).",
    )
    max_queued_tokens: str | None = Field(
        default=None,
        description='Override per tier the tokens (rows x (prompt + max_tokens)) admitted at once: "free:4096".',
    )
    device: str = Field(default="auto", description="auto (cuda when available, else cpu), cpu, cuda, cuda:N or mps.")
    dtype: str = Field(default="auto", description="auto (bfloat16 on CUDA, else float32), float32, bfloat16, float16.")
    torch_threads: int | None = Field(
        default=None, ge=1, le=1024,
        description="CPU decoding threads (torch intra-op). Unset: one less than the cores (at least 1), leaving a "
        "core to the HTTP side; on a busy box more threads stall every step while one waits for its time slice.",
    )  # fmt: skip
    max_tokens_default: int = Field(
        default=128, ge=1, le=2048, description="Completion length (tokens) when a request gives no max_tokens."
    )
    prefill_chunk_tokens: int = Field(
        default=128, ge=1, le=65536,
        description="Prompt tokens per row prefilled in one step (a long prompt yields to others between chunks).",
    )  # fmt: skip
    max_sessions: int = Field(
        default=8, ge=1, le=256,
        description="Decode sessions open at once, interleaved step by step (requests beyond them queue).",
    )  # fmt: skip
    max_step_wait_ms: int = Field(
        default=100, ge=1, le=60000,
        description="Longest a decode session waits for its next step while newer, shorter work goes first.",
    )  # fmt: skip
    serve_registry_active: bool = Field(
        default=False,
        description="At start-up, load the registry's active adapter for the served base model (by its content "
        "hash) and serve it as the default model; none active: the base.",
    )
    bootstrap_steps: int | None = Field(
        default=None,
        ge=1,
        description="Training steps of the bootstrap model built on first use (unset: 1000). For quick trials: "
        "another count builds under models/bootstrap-<N>steps, never in place of the real model.",
    )
    verifier_probe_interval_s: float = Field(
        default=10.0,
        ge=0.5,
        allow_inf_nan=False,
        description="How often the dev tier's verifier is probed (GET /healthz).",
    )
    max_request_bytes: int = Field(
        default=4 * 1024 * 1024,
        ge=1024,
        description="Largest request body accepted (bytes); a larger one is refused with 413 before it is read.",
    )

    @field_validator("api_keys")
    @classmethod
    def _keys(cls, value: str | None) -> str | None:
        parse_api_keys(value)  # a bad entry stops the service at start-up, naming it
        return value

    @field_validator("adapter_dirs")
    @classmethod
    def _adapter_dirs(cls, value: str | None) -> str | None:
        for entry in (value or "").split(os.pathsep):
            if entry.strip() and not Path(entry.strip()).expanduser().is_absolute():  # never the server's cwd
                raise ValueError(f"CPPFORGE_ADAPTER_DIRS entry {entry.strip()!r} is relative: give absolute paths")
        return value

    @field_validator("rate_limits")
    @classmethod
    def _rate_limits(cls, value: str | None) -> str | None:
        parse_rate_limits(value)
        return value

    @field_validator("max_sequences", "max_queued_tokens")
    @classmethod
    def _admission_limits(cls, value: str | None, info: ValidationInfo) -> str | None:
        unit = "sequences" if info.field_name == "max_sequences" else "tokens"
        parse_tier_counts(value, env=f"CPPFORGE_{str(info.field_name).upper()}", unit=unit)
        return value

    @field_validator("open_tier")
    @classmethod
    def _open_tier(cls, value: str) -> str:
        return check_tier(value, TIER_NAMES, "CPPFORGE_OPEN_TIER")

    @field_validator("device")
    @classmethod
    def _device(cls, value: str) -> str:
        return check_device(value)

    @field_validator("dtype")
    @classmethod
    def _dtype(cls, value: str) -> str:
        return check_dtype(value)

    @property
    def adapter_roots(self) -> list[Path]:
        """Where `path` adapter loads may come from (symlinks resolved): CPPFORGE_ADAPTER_DIRS, else home."""
        dirs = [d.strip() for d in (self.adapter_dirs or "").split(os.pathsep) if d.strip()]
        return [Path(d).expanduser().resolve() for d in dirs] or [self.home]


class TrainerServiceSettings(CppforgeSettings):
    """The trainer jobs service (`cppforge serve trainer`)."""

    trainer_host: str = Field(default="127.0.0.1", description="Bind address.")
    trainer_port: int = Field(default=8003, ge=1, le=65535, description="Port.")
    api_keys: str | None = Field(default=None, description='"key1:free,key2:pro"; any valid key may submit jobs.')
    jobs_dir: Path | None = Field(default=None, description="A dir per job (default $CPPFORGE_HOME/trainer/jobs).")
    cancel_grace_s: float = Field(
        default=30.0, gt=0, description="After SIGTERM, how long a run may take to checkpoint before SIGKILL."
    )
    job_use_services: bool = Field(
        default=False,
        description="Jobs get their rewards from CPPFORGE_VERIFIER_URL and (LoRA RL) their rollouts from "
        "CPPFORGE_INFERENCE_URL over HTTP, and CPPFORGE_MODEL as their model, unless a job names its own "
        "(`cppforge up` sets this).",
    )
    inference_api_key: str | None = Field(
        default=None,
        description="The key runs use for rollouts through the inference service (keyed: an admin key, it also "
        "pushes adapters). Runs read it from the environment: it is never written into a job's overrides.",
    )
    model: str | None = Field(
        default=None,
        description="With job_use_services: the model of jobs that name none, the base the inference service "
        "serves (its CPPFORGE_MODEL); unset: the bootstrap model, as the inference service.",
    )
    job_runner: Literal["process", "docker"] = Field(
        default="process", description="Each run a child process, or a container of its own (the docker SDK)."
    )
    job_image: str = Field(default="cppforge-trainer:latest", description="docker runner: the image runs start in.")
    job_command: str = Field(
        default="cppforge train", description="docker runner: the launch prefix inside the image (split like a shell)."
    )
    job_volume: str | None = Field(
        default=None,
        description="docker runner: the host path or volume name holding the jobs dir, mounted at the jobs dir's "
        "path inside (default: the jobs dir itself, bind-mounted).",
    )
    job_mounts: str | None = Field(
        default=None, description='docker runner: more mounts, "SOURCE:TARGET[:ro],..." (e.g. the models volume).'
    )
    job_memory_mb: int | None = Field(default=None, gt=0, description="docker runner: memory limit per run (no swap).")
    job_cpus: float | None = Field(default=None, gt=0, description="docker runner: CPUs per run (a CFS quota).")
    job_pids_limit: int | None = Field(default=4096, gt=0, description="docker runner: processes per run.")
    job_gpus: Literal["auto", "none", "all"] = Field(
        default="auto", description="docker runner: all GPUs (auto: when the daemon has the nvidia runtime), or none."
    )
    job_network: str = Field(default="host", description="docker runner: the containers' network mode.")
    job_user: str | None = Field(
        default=None,
        description='docker runner: the "uid:gid" runs run as (default: the service\'s own uid:gid when the jobs '
        "dir is a bind mount, so a run can write its job dir; the image's user with a named volume).",
    )
    docker_url: str | None = Field(default=None, description="docker runner: the daemon (default: $DOCKER_HOST).")

    @field_validator("api_keys")
    @classmethod
    def _keys(cls, value: str | None) -> str | None:
        parse_api_keys(value)  # a bad entry stops the service at start-up, naming it
        return value

    @field_validator("job_user")
    @classmethod
    def _job_user(cls, value: str | None) -> str | None:
        value = (value or "").strip() or None
        if value is not None and not re.fullmatch(r"[A-Za-z0-9_.-]+(:[A-Za-z0-9_.-]+)?", value):
            raise ValueError(f"CPPFORGE_JOB_USER: {value!r} is not USER[:GROUP] (names or numeric ids)")
        return value

    @property
    def job_container_user(self) -> str | None:
        """CPPFORGE_JOB_USER, else the service's own uid:gid where the jobs dir is bind-mounted (a host path)."""
        if self.job_user:
            return self.job_user
        bind = self.job_volume is None or self.job_volume.startswith("/")
        return f"{os.getuid()}:{os.getgid()}" if bind else None

    @model_validator(mode="after")
    def _jobs_dir(self) -> TrainerServiceSettings:
        # After the base's validator: `home` is already absolute.
        self.jobs_dir = (self.jobs_dir or self.home / "trainer" / "jobs").expanduser().resolve()
        for entry in (self.job_mounts or "").split(","):
            parts = entry.strip().split(":")
            if entry.strip() and not (len(parts) in (2, 3) and all(parts) and parts[1].startswith("/")
                                      and parts[2:] in ([], ["ro"], ["rw"])):  # fmt: skip
                raise ValueError(f"CPPFORGE_JOB_MOUNTS: {entry.strip()!r} is not SOURCE:/TARGET[:ro|:rw]")
        return self

    @property
    def job_mount_list(self) -> tuple[str, ...]:
        return tuple(e.strip() for e in (self.job_mounts or "").split(",") if e.strip())

    @property
    def jobs_root(self) -> Path:
        assert self.jobs_dir is not None  # set by the validator
        return self.jobs_dir


@lru_cache(maxsize=1)
def get_trainer_service_settings() -> TrainerServiceSettings:
    return TrainerServiceSettings()

"""The inference service object (no FastAPI import): model, proxy, tiers, generation, metrics.

Generation runs in the GenerationBatcher's worker thread (one model): requests waiting together
for the same adapter share one batched decode session, several sessions interleave step by step
(batcher.py), and the N candidates of a request always go through one session. Scoring and ranking run
in the caller's thread.

Models served: the base model under `settings.model_name` and every loaded LoRA adapter under its
own name. A request's `model` picks one: an adapter name runs exactly that adapter; the base id
(or no model at all) runs the service's default, which is the active adapter when one was
activated, else the bare base.

Adapters come from a directory or from the adapter registry by name (services/trainer/registry):
a registry artifact loads only when its base model's content hash is the served model's (and the base's
files are still the ones loaded), from a copy of its files hashed after copying, so the weights served
are the ones its manifest and its eval name; a directory never loads under a registry name. With
`serve_registry_active`, the registry's active adapter for this base is loaded at start-up and
activated, so it is the default model.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import logging
import threading
import time
import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, generate_latest

from ..common.auth import warn_if_open
from ..common.settings import InferenceSettings, get_verifier_settings
from ..lm.decode_session import DecodeSession, Outcome
from ..lm.model import LoadedModel, load_adapter, load_model, unload_adapter, use_adapter
from ..lm.prompts import TemplatedPrompt, encode_prompt, plain_chat_prompt
from ..lm.sampling import Sample, SampleRequest, SamplingParams, SamplingStats
from .adapter_paths import AdapterPathError, allowed_adapter_path, unloadable
from .admission import Admission, PoolUse
from .batcher import GenerationBatcher
from .best_of_n import BestOfNMetrics, CompileRanker, ProxyRanker, Ranker, rank_samples
from .errors import (
    AdapterConflictError,
    AdapterInvalidError,
    AdapterNotFoundError,
    BadRequestError,
    ModelNotFoundError,
    RegistryUnavailableError,
)
from .prompt_ids import TokenPrompt
from .tiers import (
    Gatekeeper,
    Tier,
    TierOverrides,
    parse_admin_keys,
    parse_api_keys,
    parse_max_queued_tokens,
    parse_max_sequences,
    parse_rate_limits,
)

log = logging.getLogger(__name__)


def default_proxy_path() -> Path:
    return get_verifier_settings().home / "models" / "proxy"


@dataclass(frozen=True)
class ModelChoice:
    """What a request's `model` resolved to."""

    id: str  # reported back in the response: the adapter's name, or the base model id
    adapter: str | None  # the adapter that decodes; None: the base with adapters off


@dataclass
class AdapterSession:
    """A DecodeSession whose every step runs with `adapter` selected (sessions of other adapters
    interleave with it: the selection is made again at each step)."""

    loaded: LoadedModel
    adapter: str | None
    session: DecodeSession

    def step(self) -> bool:
        with use_adapter(self.loaded, self.adapter) as model:
            return self.session.step(model)

    def remaining(self) -> int:
        return self.session.remaining()

    def take_finished(self) -> list[tuple[int, Outcome]]:
        return self.session.take_finished()

    def absorb(self, other: Any) -> bool:
        """Join `other` (another AdapterSession of this model and adapter) into this decode."""
        if not isinstance(other, AdapterSession) or other.loaded is not self.loaded or other.adapter != self.adapter:
            return False
        return self.session.absorb(other.session)


@dataclass(frozen=True)
class ServedModel:
    """One entry of /v1/models."""

    id: str
    root: str  # the base: its own id; an adapter: the directory it was loaded from
    parent: str | None  # an adapter: the base model id
    created: int  # unix time the service loaded it (an adapter: its latest load)


@dataclass(frozen=True)
class AdapterLoad:
    loaded: list[str]  # every adapter, in load order
    active: str | None  # the active adapter after the call
    replaced: bool  # the name was loaded before and now holds the new weights


@dataclass
class Generation:
    """Choices in sample order (choice i: the candidate drawn with seed + i), or when `ranked`
    (more candidates than choices) the best first."""

    choices: list[tuple[str, str, str | None]]  # (text, finish_reason, stop_reason)
    metrics: BestOfNMetrics
    prompt_tokens: int
    completion_tokens: int
    model: str  # the model id that generated (ModelChoice.id)
    samples: list[Sample] = field(default_factory=list)  # the samples of `choices`, in their order
    ranked: bool = False


class InferenceMetrics:
    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        r = self.registry
        self.requests = Counter("cppforge_inference_requests", "HTTP requests", ["endpoint", "status"], registry=r)
        self.candidates = Counter("cppforge_inference_candidates", "Candidates generated", ["scorer"], registry=r)
        self.verified = Counter("cppforge_inference_verified", "Candidates judged by the real verifier", registry=r)
        self.tokens = Counter("cppforge_inference_completion_tokens", "Completion tokens generated", registry=r)
        self.latency = Histogram(
            "cppforge_inference_request_seconds", "Generation + ranking time per request",
            buckets=(0.05, 0.1, 0.25, 0.5, 1, 2, 5, 10, 30), registry=r,
        )  # fmt: skip
        self.inflight_sequences = Gauge(
            "cppforge_inference_inflight_sequences", "Candidate rows admitted, queued or decoding", ["tier"], registry=r
        )
        self.inflight_tokens = Gauge(
            "cppforge_inference_inflight_tokens", "Tokens admitted: rows x (prompt + max_tokens)", ["tier"], registry=r
        )
        self.admission_refused = Counter(
            "cppforge_inference_admission_refused", "Requests refused by admission control", ["tier", "status"],
            registry=r,
        )  # fmt: skip

    def observe_admission(self, pools: dict[str, PoolUse]) -> None:
        for tier, use in pools.items():
            self.inflight_sequences.labels(tier).set(use.sequences)
            self.inflight_tokens.labels(tier).set(use.tokens)

    def render(self) -> bytes:
        return generate_latest(self.registry)


class InferenceService:
    def __init__(self, settings: InferenceSettings, loaded: LoadedModel | None = None) -> None:
        self.settings = settings
        overrides = TierOverrides(
            requests_per_minute=parse_rate_limits(settings.rate_limits),
            max_sequences=parse_max_sequences(settings.max_sequences),
            max_queued_tokens=parse_max_queued_tokens(settings.max_queued_tokens),
        )
        self.gate = Gatekeeper(
            parse_api_keys(settings.api_keys), settings.open_tier, admin_keys=parse_admin_keys(settings.admin_keys),
            overrides=overrides,
        )  # fmt: skip
        self.admission = Admission(self.gate.tiers_in_use(), self.gate.keys_per_tier())
        self.created = int(time.time())  # the base's `created` in /v1/models: set again when load() loads it
        self._loaded_at: dict[str, int] = {}  # adapter name -> when it was (last) loaded
        self.metrics = InferenceMetrics()
        self.loaded = loaded
        self.proxy: Any = None
        self.proxy_reason: str | None = None  # why there is no proxy (/healthz)
        self.batcher: GenerationBatcher | None = None
        self._base_sha256: str | None = None
        self._base_stamp: dict[str, dict[str, int]] | None = None  # the base's files as they were when loaded
        self._registry_loaded: dict[str, str] = {}  # name -> adapter sha256 of adapters loaded from the registry
        self.registry_active: str | None = None  # the registry adapter loaded as the default at start-up
        self.verifier_reachable: Callable[[], bool] | None = None  # the verifier monitor's view (startup.py)

    # -- lifecycle -------------------------------------------------------------------------
    def load(self, model_path: str | None = None) -> None:
        """`model_path`: the model dir when the caller resolved it (startup.py builds the bootstrap model)."""
        if self.loaded is None:
            path = model_path or self.settings.model
            if path is None:
                from ..lm.bootstrap import ensure_bootstrap_model

                path = str(ensure_bootstrap_model())
            self._base_stamp = _stamp(path)  # before loading: files changed after this no longer describe it
            self.loaded = load_model(path, dtype=self.settings.dtype, device=self.settings.device)
            self.created = int(time.time())
        self.batcher = GenerationBatcher(
            self._open_session,
            max_sessions=self.settings.max_sessions,
            max_wait_s=self.settings.max_step_wait_ms / 1000,
        )
        proxy_path = self.settings.proxy_path or default_proxy_path()
        if proxy_path.exists():
            from .proxy import ProxyClassifier, ProxyModelMismatchError

            try:
                self.proxy = ProxyClassifier.load(proxy_path, model_sha256=self._served_sha256_or_none)
            except ProxyModelMismatchError as exc:  # another model's proxy ranks wrongly: serve without it
                self.proxy_reason = str(exc)
                log.error("%s; best-of-N ranks without the proxy", exc)
        else:
            self.proxy_reason = f"no proxy classifier at {proxy_path} (run `cppforge train-proxy`)"
            log.warning(
                "no proxy classifier at %s: best-of-N ranks by length only (run `cppforge train-proxy`)", proxy_path
            )
        warn_if_open(log, "inference", self.gate.keys, f" with the {self.gate.open_tier.name} tier")
        if self.settings.serve_registry_active:
            self._serve_registry_active()

    def close(self) -> None:
        if self.batcher is not None:
            self.batcher.close()

    @property
    def model_id(self) -> str:
        return self.settings.model_name

    @property
    def adapters(self) -> list[str]:
        return list(self.loaded.adapters) if self.loaded is not None else []

    # -- models ----------------------------------------------------------------------------
    def resolve_model(self, requested: str | None) -> ModelChoice:
        """A request's `model`: None or the base id -> the default (the active adapter, else the
        base); an adapter name -> that adapter; anything else -> ModelNotFoundError (404)."""
        assert self.loaded is not None
        if requested is None or requested == self.model_id:
            active = self.loaded.active_adapter
            return ModelChoice(id=active or self.model_id, adapter=active)
        if requested in self.loaded.adapters:
            return ModelChoice(id=requested, adapter=requested)
        raise ModelNotFoundError(requested, [m.id for m in self.served_models()])

    def served_models(self) -> list[ServedModel]:
        """The base model, then every loaded adapter in load order."""
        models = [ServedModel(id=self.model_id, root=self.model_id, parent=None, created=self.created)]
        if self.loaded is not None:
            paths = self.loaded.adapter_paths
            models += [
                ServedModel(a, root=str(paths[a]), parent=self.model_id, created=self._loaded_at.get(a, self.created))
                for a in self.loaded.adapters
            ]
        return models

    # -- ranking ---------------------------------------------------------------------------
    def _proxy_ranker(self) -> ProxyRanker:
        if self.proxy is not None:
            return ProxyRanker(self.proxy.score_many)
        return ProxyRanker(lambda codes: [0.0] * len(codes), name="length")  # no proxy: the length tie-break ranks

    def ranker_for(self, tier: Tier) -> Ranker:
        if tier.scorer == "compile":
            return CompileRanker(self.settings.verifier_url, self._proxy_ranker(), reachable=self.verifier_reachable)
        return self._proxy_ranker()

    # -- generation ------------------------------------------------------------------------
    def encode(self, prompt: str) -> list[int]:
        assert self.loaded is not None
        if isinstance(prompt, TokenPrompt):  # a completions prompt given as token ids: used as given
            return list(prompt.ids)
        return encode_prompt(self.loaded.tokenizer, prompt)

    def chat_prompt(self, messages: list[dict[str, str]]) -> str:
        """The chat template when the tokenizer has one (a TemplatedPrompt: encoded adding no BOS of
        its own); else a code prompt: the last user message after the system/developer messages as
        `//` comments (`plain_chat_prompt`)."""
        assert self.loaded is not None
        tok = self.loaded.tokenizer
        if getattr(tok, "chat_template", None):
            return TemplatedPrompt(tok.apply_chat_template(messages, tokenize=False, add_generation_prompt=True))
        return plain_chat_prompt(messages)

    def _open_session(self, adapter: str | None, requests: Sequence[SampleRequest]) -> AdapterSession:
        """The batcher's session opener: a decode of `requests` with `adapter` selected at each step."""
        assert self.loaded is not None
        if adapter is not None and adapter not in self.loaded.adapters:  # unloaded while the request was queued
            raise ModelNotFoundError(adapter, [m.id for m in self.served_models()])
        session = DecodeSession(self.loaded.tokenizer, requests, prefill_chunk=self.settings.prefill_chunk_tokens)
        return AdapterSession(self.loaded, adapter, session)

    async def generate(
        self,
        prompt: str,
        *,
        candidates: int,
        n_return: int,
        params: SamplingParams,
        tier: Tier,
        model: ModelChoice | None = None,
        prompt_ids: Sequence[int] | None = None,
        cancel: threading.Event | None = None,
    ) -> Generation:
        """`model`: from resolve_model (None: the default); `prompt_ids`: the prompt already encoded
        (context.encode_checked); `cancel`: set it (the caller went away) and the decode ends at its next
        step. Candidates are ranked only when some must be left out (candidates > n_return); otherwise
        every one returns, in sample order. The decode is awaited, not waited for in a thread: a request
        being decoded holds none of the event loop's worker threads (which other requests need)."""
        assert self.loaded is not None and self.batcher is not None
        started = time.monotonic()
        choice = model or self.resolve_model(None)
        ids = list(prompt_ids) if prompt_ids is not None else await asyncio.to_thread(self.encode, prompt)
        request = SampleRequest(ids, candidates, params, cancel=cancel)
        samples, stats = await asyncio.wrap_future(self.batcher.enqueue(request, choice.adapter))
        return await asyncio.to_thread(
            self._rank, prompt, samples, stats, n_return=n_return, tier=tier, choice=choice, started=started
        )

    def _rank(
        self,
        prompt: str,
        samples: list[Sample],
        stats: SamplingStats,
        *,
        n_return: int,
        tier: Tier,
        choice: ModelChoice,
        started: float,
    ) -> Generation:
        """Rank the decoded candidates when some must be left out (blocking: the dev tier compiles them)."""
        ranked = len(samples) > n_return
        ranker = self.ranker_for(tier) if ranked else None
        # Rankers score the program prompt + completion; a chat rendered by a template is role markup, not
        # code, so there the completion alone is the candidate program.
        code_prompt = "" if isinstance(prompt, TemplatedPrompt) else prompt
        _, metrics = rank_samples(samples, stats, code_prompt, ranker, started, tier.budget_s)
        chosen = metrics.order[:n_return]
        self.metrics.candidates.labels(metrics.scorer).inc(len(samples))
        self.metrics.verified.inc(sum(metrics.verified))
        self.metrics.tokens.inc(metrics.completion_tokens)
        self.metrics.latency.observe(time.monotonic() - started)
        return Generation(
            choices=[(metrics.candidates[i], metrics.finish_reasons[i], metrics.stopped_by[i] or None) for i in chosen],
            metrics=metrics,
            prompt_tokens=stats.prompt_tokens,
            completion_tokens=metrics.completion_tokens,
            model=choice.id,
            samples=[samples[i] for i in chosen],
            ranked=ranked,
        )

    # -- adapters --------------------------------------------------------------------------
    def load_adapter(self, path: str, name: str, *, activate: bool, replace: bool = True) -> AdapterLoad:
        """Load (or, under a name already loaded and with `replace`, reload) a LoRA adapter.

        With the model alone (batcher.exclusive()): no decode runs while the old weights go and the new
        ones come. Blocking (it waits for the open decodes to finish): call it off the event loop. Whatever
        keeps `path` from loading, the answer is the one AdapterInvalidError of adapter_paths.unloadable.
        """
        assert self.loaded is not None and self.batcher is not None
        if name == self.model_id:
            raise BadRequestError(f"{name!r} is the base model's id; give the adapter another name", "name")
        # The name's checks first: which of them fails must not depend on what `path` is on disk.
        self._refuse_registry_name(name)
        if not replace and name in self.loaded.adapters:
            raise BadRequestError(f"an adapter named {name!r} is already loaded (replace=false)", "name")
        roots = self.settings.adapter_roots
        try:
            real = allowed_adapter_path(path, roots)
            return self._load(str(real), name, activate=activate, replace=replace, param="path")
        except (AdapterPathError, AdapterInvalidError, OSError, ValueError) as exc:  # ValueError: a NUL byte
            # One answer whatever is on disk (adapter_paths.py); the reason is for the operator's eyes only.
            log.warning("adapter %r: no loadable adapter at %r: %s", name, path, exc)
            kept = name if name in self.loaded.adapters else None  # a failed replacement keeps the old weights
            raise unloadable(path, roots, kept=kept) from None

    def _load(self, path: str, name: str, *, activate: bool, replace: bool, param: str) -> AdapterLoad:
        """AdapterInvalidError (400, naming `param`) when the files do not load: the adapter that
        held `name` before, if any, still serves with its old weights (model.load_adapter)."""
        assert self.loaded is not None and self.batcher is not None
        with self.batcher.exclusive():
            replaced = name in self.loaded.adapters
            if replaced and not replace:
                raise BadRequestError(f"an adapter named {name!r} is already loaded (replace=false)", "name")
            try:
                load_adapter(self.loaded, path, name, activate=activate, replace=True)
            except FileNotFoundError:
                raise
            except Exception as exc:  # safetensors, PEFT, a config's TypeError: the files' fault
                log.warning("adapter %r from %s did not load", name, path, exc_info=True)
                kept = f"; adapter {name!r} keeps its previous weights" if replaced else ""
                raise AdapterInvalidError(
                    f"the adapter at {path} could not be loaded ({type(exc).__name__}: {exc}){kept}", param
                ) from None
            self._loaded_at[name] = int(time.time())
        return AdapterLoad(loaded=self.adapters, active=self.loaded.active_adapter, replaced=replaced)

    def unload_adapter(self, name: str) -> AdapterLoad:
        """Delete a loaded adapter (its name then 404s); the base becomes the default if it was active.
        AdapterNotFoundError for a name not loaded. Blocking (waits for the open decodes to finish)."""
        assert self.loaded is not None and self.batcher is not None
        with self.batcher.exclusive():
            if name not in self.loaded.adapters:
                known = ", ".join(self.adapters) or "none"
                raise AdapterNotFoundError(f"no adapter {name!r} is loaded (loaded: {known})", param="name")
            unload_adapter(self.loaded, name)
            self._loaded_at.pop(name, None)
            self._registry_loaded.pop(name, None)
            if self.registry_active == name:
                self.registry_active = None
        return AdapterLoad(loaded=self.adapters, active=self.loaded.active_adapter, replaced=False)

    # -- the adapter registry -------------------------------------------------------------------
    def _refuse_registry_name(self, name: str) -> None:
        """A directory's weights never take a registry name: under that name clients expect the evaluated
        artifact (and the default model, when it is the registry's active one)."""
        from ..trainer.registry import RegistryError
        from ..trainer.registry.index import read_index

        taken = name in self._registry_loaded
        # An unreadable registry: nothing can be loaded from it by that name either.
        with contextlib.suppress(RegistryError, OSError):
            taken = taken or name in read_index(self.settings.registry_root)
        if taken:
            raise AdapterConflictError(
                f'{name!r} is an adapter registry name: load it by {{"registry": "{name}"}}, or load this '
                "directory under another name",
                "registry_name_taken",
                param="name",
            )

    def base_model_sha256(self) -> str:
        """The served base's content hash (what registry artifacts record); hashed once, cached on disk.
        AdapterConflictError `base_model_changed` when the files on disk are no longer the ones loaded."""
        assert self.loaded is not None
        if self._base_sha256 is None:
            from ..trainer.registry import model_content_hash

            if self._base_stamp is None:  # a model handed in already loaded: its files as they are now
                self._base_stamp = _stamp(self.loaded.path)
            self._check_base_unchanged()
            sha = model_content_hash(self.loaded.path, cache_dir=self.settings.registry_root)
            self._check_base_unchanged()  # (not rewritten while it was being hashed)
            self._base_sha256 = sha
        return self._base_sha256

    def _served_sha256_or_none(self) -> str | None:
        """The base's content hash for the proxy check; None (proxy loaded unchecked) when it has none."""
        from ..trainer.registry import RegistryError

        try:
            return self.base_model_sha256()
        except (RegistryError, AdapterConflictError, OSError):
            return None

    def _check_base_unchanged(self) -> None:
        assert self.loaded is not None
        if _stamp(self.loaded.path) != self._base_stamp:
            raise AdapterConflictError(
                f"the base model's files at {self.loaded.path} changed after this service loaded them: their "
                "hash would not describe the weights it serves; restart the service to serve registry adapters",
                "base_model_changed",
            )

    def load_registry_adapter(self, name: str, *, activate: bool, replace: bool = True) -> AdapterLoad:
        """Load registry artifact `name` under that name, once its files and its base model are checked.

        AdapterNotFoundError (404) for an unknown name; AdapterConflictError (409) for an artifact of
        another base model or whose files do not match its manifest. Blocking (hashing, loading).
        """
        from ..trainer.registry import ArtifactCorruptError, ArtifactNotFoundError, InvalidArtifactError, RegistryError
        from ..trainer.registry.artifacts import verified_copy

        assert self.loaded is not None
        if name == self.model_id:
            raise BadRequestError(f"{name!r} is the base model's id; it cannot name an adapter", "registry")
        try:
            # Loaded from a private copy hashed after copying: the weights served are the bytes the
            # manifest (and so the eval) names, whatever is written into the registry meanwhile.
            with verified_copy(name, root=self.settings.registry_root) as artifact:
                served = self.base_model_sha256()
                if artifact.base_model_sha256 != served:
                    raise AdapterConflictError(
                        f"adapter {name!r} was trained on base model {artifact.base_model} (sha256 "
                        f"{artifact.base_model_sha256[:12]}), but this service serves {self.loaded.path} "
                        f"(sha256 {served[:12]})",
                        "base_model_mismatch",
                    )
                done = self._load(str(artifact.path), name, activate=activate, replace=replace, param="registry")
                self.loaded.adapter_paths[name] = artifact_dir_of(self.settings.registry_root, name)
                self._registry_loaded[name] = artifact.adapter_sha256
        except ArtifactNotFoundError as exc:
            raise AdapterNotFoundError(f"{exc} ({self.settings.registry_root})") from None
        except ArtifactCorruptError as exc:
            raise AdapterConflictError(str(exc), "adapter_corrupt") from None
        except InvalidArtifactError as exc:  # a name the registry never takes ("..", "-x")
            raise BadRequestError(str(exc), "registry") from None
        except RegistryError as exc:  # unreadable index or manifest: the registry's fault, not the request's
            raise RegistryUnavailableError(str(exc)) from None
        return done

    def _serve_registry_active(self) -> None:
        """Start-up: the registry's active adapter for this base becomes the default model (none: the base)."""
        from ..trainer.registry import RegistryError, active_for_base

        try:
            name = active_for_base(self.base_model_sha256(), root=self.settings.registry_root)
        except (RegistryError, AdapterConflictError) as exc:  # told to serve it: refuse to start, say why
            raise RuntimeError(f"cannot find the registry's active adapter: {exc}") from None
        if name is None:
            log.warning(
                "no active registry adapter for base %s (sha256 %s) in %s: serving the base model",
                self.model_id, self.base_model_sha256()[:12], self.settings.registry_root,
            )  # fmt: skip
            return
        try:
            self.load_registry_adapter(name, activate=True)
        except (AdapterConflictError, RegistryUnavailableError) as exc:  # refuse to start rather than serve another
            raise RuntimeError(f"cannot serve the registry's active adapter {name!r}: {exc}") from None
        self.registry_active = name
        log.info("serving the registry's active adapter %s as the default model", name)

    # -- health ----------------------------------------------------------------------------
    def health(self) -> dict[str, Any]:
        default = self.loaded.active_adapter if self.loaded else None
        return {
            "status": "ok" if self.loaded is not None else "loading",
            "model": self.model_id,
            "model_path": str(self.loaded.path) if self.loaded else None,
            "device": str(self.loaded.device) if self.loaded else None,
            "proxy": self.proxy is not None,
            "proxy_reason": self.proxy_reason,
            "adapters": self.adapters,
            "active_adapter": self.loaded.active_adapter if self.loaded else None,
            "batches": self.batcher.batches if self.batcher else 0,
            "merged_requests": self.batcher.merged_requests if self.batcher else 0,
            "open_sessions": self.batcher.open_sessions if self.batcher else 0,  # decodes interleaved right now
            "auth": "open" if self.gate.open else "api_keys",
            # per tier in use: sequences and tokens admitted (queued or decoding) against the limits
            "admission": {tier: dataclasses.asdict(use) for tier, use in self.admission.snapshot().items()},
            "registry": {
                "serve_active": self.settings.serve_registry_active,
                # the registry's active adapter loaded at start-up, while it is still the default model
                "active": self.registry_active if default == self.registry_active else None,
                "base_model_sha256": self._base_sha256,
            },
        }


def _stamp(model_path: str | Path) -> dict[str, dict[str, int]] | None:
    """The stat stamps of the files the base's content hash covers (None: not a local model dir)."""
    from ..trainer.registry import RegistryError
    from ..trainer.registry.hashing import model_stamp

    try:
        return model_stamp(model_path)
    except (RegistryError, OSError):
        return None


def artifact_dir_of(root: Path, name: str) -> Path:
    from ..trainer.registry.index import artifact_dir

    return artifact_dir(root, name)


def completion_id(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex[:24]}"

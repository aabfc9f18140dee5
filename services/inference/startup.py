"""Start-up behind an open port: the model loads (and the bootstrap model trains) in a background thread.

From an empty CPPFORGE_HOME the bootstrap model trains for minutes; loading it in the lifespan kept
the port closed all that time, so neither a user nor a probe could tell "starting" from "dead". The
lifespan starts `Startup` and returns at once:
  * /healthz (liveness) answers 200 from the start, its body naming the phase:
    bootstrapping -> loading -> ready, or failed;
  * /readyz answers 503 until the model is ready, with the bootstrap's step progress, and 200 after
    ("degraded" while a tier in use needs the verifier and it is not reachable: verifier_health.py);
  * the /v1 endpoints answer 503 `model_loading` with Retry-After meanwhile, never a hang; after a
    failed load, 503 `model_unavailable` with the reason (retrying will not help).
"""

from __future__ import annotations

import logging
import math
import threading
import time
from collections import Counter
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

from ..common.errors import ServiceError
from ..common.settings import InferenceSettings
from .verifier_health import VerifierMonitor, tiers_needing_verifier

if TYPE_CHECKING:
    from .service import InferenceService

log = logging.getLogger(__name__)

Phase = Literal["loading", "bootstrapping", "ready", "failed"]


class ModelLoadingError(ServiceError):
    """A /v1 request before the model is ready (503 `model_loading`, Retry-After)."""

    status = 503
    code = "model_loading"
    error_type = "server_error"


class ModelUnavailableError(ServiceError):
    """A /v1 request after the model failed to load (503 `model_unavailable`, no Retry-After)."""

    status = 503
    code = "model_unavailable"
    error_type = "server_error"


class LoadCancelled(Exception):
    """Raised from the bootstrap's step callback when the service shuts down mid-build."""


# -- CPPFORGE_MODEL ---------------------------------------------------------------------------


def check_model_setting(model: str | None) -> None:
    """ValueError (one line, naming CPPFORGE_MODEL and the fix) unless `model` is unset or a saved model dir."""
    if model is None:
        return
    path = Path(model).expanduser()
    if not path.exists():
        hub_like = not model.startswith(("/", ".", "~")) and model.count("/") <= 1
        raise ValueError(
            f"CPPFORGE_MODEL={model!r} is not a local directory: "
            + ("it looks like a model hub id, but " if hub_like else "")
            + "models load from local paths only (no model hub at run time); download the checkpoint first "
            f"(e.g. `huggingface-cli download {model if hub_like else 'ORG/NAME'} --local-dir DIR`) and set "
            "CPPFORGE_MODEL=DIR, or unset it to serve the bootstrap model"
        )
    if not path.is_dir() or not (path / "config.json").is_file():
        raise ValueError(
            f"CPPFORGE_MODEL={model!r} is not a saved Hugging Face model directory (no config.json in it): "
            "point it at the directory that holds config.json and the weights, or unset it for the bootstrap model"
        )


def bootstrap_dir(settings: InferenceSettings) -> Path:
    """Where the bootstrap model is built: a quick-trial step count gets its own dir, never the real one's."""
    from ..lm.bootstrap import DEFAULT_STEPS

    steps = settings.bootstrap_steps or DEFAULT_STEPS
    name = "bootstrap" if steps == DEFAULT_STEPS else f"bootstrap-{steps}steps"
    return settings.home / "models" / name


# -- state ------------------------------------------------------------------------------------


@dataclass(frozen=True)
class LoadSnapshot:
    phase: Phase
    step: int | None = None  # bootstrap progress
    total: int | None = None
    eta_s: float | None = None
    error: str | None = None  # why the load failed

    def progress(self) -> dict[str, Any] | None:
        if self.step is None:
            return None
        body: dict[str, Any] = {"step": self.step, "total": self.total}
        if self.eta_s is not None:
            body["eta_s"] = round(self.eta_s, 1)
        return body


class LoadState:
    """The phase and bootstrap progress, written by the loading thread, read by the handlers."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._phase: Phase = "loading"
        self._error: str | None = None
        self._step: int | None = None
        self._total: int | None = None
        self._trained_since: float | None = None  # when step 0 was reported: the rate's origin

    def set(self, phase: Phase, error: str | None = None) -> None:
        with self._lock:
            self._phase, self._error = phase, error

    def bootstrap_step(self, step: int, total: int | None) -> None:
        with self._lock:
            if step == 0 or self._trained_since is None:
                self._trained_since = time.monotonic()
            self._phase, self._step, self._total = "bootstrapping", step, total

    def snapshot(self) -> LoadSnapshot:
        with self._lock:
            eta = None
            if self._phase == "bootstrapping" and self._step and self._total and self._trained_since is not None:
                per_step = (time.monotonic() - self._trained_since) / self._step
                eta = per_step * (self._total - self._step)
            progress = self._phase == "bootstrapping"
            return LoadSnapshot(
                phase=self._phase,
                step=self._step if progress else None,
                total=self._total if progress else None,
                eta_s=eta,
                error=self._error,
            )


# -- the loading thread -----------------------------------------------------------------------


class BackgroundLoad:
    """service.load() in a daemon thread: the bootstrap build first when the model is missing."""

    def __init__(self, service: InferenceService) -> None:
        self.service = service
        self.state = LoadState()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def start(self) -> None:
        self._thread = threading.Thread(target=self._run, name="inference-load", daemon=True)
        self._thread.start()

    def stop(self, timeout_s: float = 5.0) -> None:
        """Ask the bootstrap to stop at its next step and wait a little; a daemon thread still loading a
        checkpoint does not keep the process alive, so shutdown never hangs on it."""
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=timeout_s)

    def wait(self, timeout_s: float) -> bool:
        """True once the load ended (ready or failed) within `timeout_s`."""
        if self._thread is not None:
            self._thread.join(timeout=timeout_s)
        return self._thread is not None and not self._thread.is_alive()

    def _run(self) -> None:
        try:
            path = None
            if self.service.loaded is None:  # (a model handed to create_app is already loaded)
                check_model_setting(self.service.settings.model)
                path = self._model_path()
                self.state.set("loading")
            self.service.load(model_path=path)
        except LoadCancelled:
            log.info("inference: start-up cancelled during the bootstrap build")
            return
        except Exception as exc:  # any failure: reported by /readyz and logged once here
            reason = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
            # Our own refusals (a bad path, a registry that cannot serve) say it all in one line; the
            # traceback is kept for the unexpected.
            expected = isinstance(exc, (ValueError, OSError, RuntimeError))
            log.error("inference: the model failed to load: %s", reason, exc_info=not expected)
            self.state.set("failed", reason)
            return
        if self._stop.is_set():  # shut down while loading: nothing will serve, release the decode thread
            self.service.close()
            return
        log_serving_summary(self.service)
        self.state.set("ready")

    def _model_path(self) -> str:
        settings = self.service.settings
        if settings.model is not None:
            return settings.model
        from ..lm.bootstrap import DEFAULT_STEPS, ensure_bootstrap_model, is_built

        path, steps = bootstrap_dir(settings), settings.bootstrap_steps or DEFAULT_STEPS
        if not is_built(path):
            self.state.bootstrap_step(0, steps)  # step 0 while the corpus and tokenizer are prepared
        return str(ensure_bootstrap_model(path, max_steps=steps, log=log.info, on_step=self._on_step))

    def _on_step(self, step: int, total: int | None) -> None:
        if self._stop.is_set():
            raise LoadCancelled
        self.state.bootstrap_step(step, total)


# -- what the lifespan starts and the health endpoints read ----------------------------------------


class Startup:
    def __init__(self, service: InferenceService) -> None:
        self.service = service
        self.loader = BackgroundLoad(service)
        compile_tiers = tiers_needing_verifier(service.gate)
        self.monitor: VerifierMonitor | None = None
        if compile_tiers:
            self.monitor = VerifierMonitor(
                service.settings.verifier_url,
                interval_s=service.settings.verifier_probe_interval_s,
                tiers=compile_tiers,
            )
            service.verifier_reachable = self.monitor.reachable

    def start(self) -> None:
        if self.monitor is not None:
            self.monitor.start()
        self.loader.start()

    def stop(self) -> None:
        self.loader.stop()
        if self.monitor is not None:
            self.monitor.stop()

    def require_ready(self) -> None:
        snap = self.loader.state.snapshot()
        if snap.phase == "ready":
            return
        if snap.phase == "failed":
            raise ModelUnavailableError(f"the model failed to load: {snap.error}; see /readyz and the server log")
        retry = min(max(1, math.ceil(snap.eta_s)), 60) if snap.eta_s is not None else 5
        what = "the bootstrap model is being built" if snap.phase == "bootstrapping" else "the model is loading"
        progress = f" (step {snap.step}/{snap.total})" if snap.step is not None else ""
        raise ModelLoadingError(f"{what}{progress}; retry in {retry}s", retry_after_s=retry)

    def health(self) -> dict[str, Any]:
        """/healthz: always 200 while the process runs. A failed load does not fail liveness: a restart
        would load the same bad setting again, so Kubernetes would only restart-loop (and lose the reason
        from /readyz); the readiness probe keeps traffic away and /readyz says why."""
        snap = self.loader.state.snapshot()
        body = self.service.health()
        body["status"] = "ok" if snap.phase == "ready" else snap.phase
        body["phase"] = snap.phase
        if snap.error is not None:
            body["error"] = snap.error
        return body

    def readiness(self) -> tuple[int, dict[str, Any]]:
        """/readyz: (status code, body)."""
        snap = self.loader.state.snapshot()
        body: dict[str, Any] = {"phase": snap.phase}
        verifier = self.monitor.status() if self.monitor is not None else None
        if verifier is not None:
            body["verifier"] = verifier.to_dict()
        if snap.phase == "failed":
            return 503, {"status": "failed", **body, "error": snap.error}
        if snap.phase != "ready":
            progress = snap.progress()
            return 503, {"status": "not_ready", **body, **({"progress": progress} if progress else {})}
        degraded = verifier is not None and verifier.reachable is False
        return 200, {"status": "degraded" if degraded else "ready", **body}


def log_serving_summary(service: InferenceService) -> None:
    """A few INFO lines: what this process serves and to whom (key counts per tier, never the keys)."""
    from .service import default_proxy_path
    from .tiers import parse_api_keys

    loaded, settings = service.loaded, service.settings
    assert loaded is not None
    dtype = str(loaded.dtype).removeprefix("torch.")
    log.info("inference: model %s from %s on %s (%s)", service.model_id, loaded.path, loaded.device, dtype)
    proxy = settings.proxy_path or default_proxy_path()
    log.info("inference: proxy %s", proxy if service.proxy is not None else f"none (nothing at {proxy})")
    gate = service.gate
    if gate.open:
        auth = f"open (no API keys): every caller on the {gate.open_tier.name} tier"
    else:
        # An admin key that is no API key generates on the train tier, but is counted as what it is.
        api = parse_api_keys(settings.api_keys)
        counts = Counter(t.name for t in api.values())
        parts = ", ".join(f"{n} {tier}" for tier, n in sorted(counts.items()))
        auth = f"{len(api)} API key(s)" + (f": {parts}" if parts else "")
        if gate.admin_keys:
            auth += f"; {len(gate.admin_keys)} admin key(s) (may change adapters; one not an API key: train tier)"
    compile_tiers = tiers_needing_verifier(gate)
    verifier = (
        f"verifier {settings.verifier_url} for the {'/'.join(compile_tiers)} tier (probed every "
        f"{settings.verifier_probe_interval_s:g}s)"
        if compile_tiers
        else "no tier in use compiles: verifier not used"
    )
    log.info("inference: tiers: %s; %s", auth, verifier)

"""Is the dev tier's verifier reachable? A background probe of `{verifier_url}/healthz`.

Without it a dev tier whose verifier is down answers every request ranked by the proxy while nothing
says so: not the log, not /readyz. The monitor probes at start and every `interval_s`, logs the first
answer and every change, and /readyz reports `degraded` while the verifier is not reachable. It runs
only when a tier in use ranks by compiling (`tiers_needing_verifier`); the compile ranker also reads
it, so while the verifier is known down the proxy answers at once instead of each request waiting.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import datetime, timezone
from typing import Any

import httpx

from .tiers import Gatekeeper

log = logging.getLogger(__name__)


def tiers_needing_verifier(gate: Gatekeeper) -> list[str]:
    """Names of the tiers in use that rank by real compiles: the open tier when no keys are set, else the
    tiers the configured keys map to."""
    tiers: Iterable[Any] = [gate.open_tier] if gate.open else gate.keys.values()
    return sorted({t.name for t in tiers if t.scorer == "compile"})


@dataclass(frozen=True)
class VerifierStatus:
    url: str
    reachable: bool | None  # None: not probed yet
    since: float  # time.time() of the last change (or of the start)
    error: str | None = None  # why the last probe failed

    def to_dict(self) -> dict[str, Any]:
        body: dict[str, Any] = {
            "url": self.url,
            "reachable": self.reachable,
            "since": datetime.fromtimestamp(self.since, timezone.utc).isoformat(timespec="seconds"),
        }
        if self.error is not None:
            body["error"] = self.error
        return body


class VerifierMonitor:
    def __init__(
        self,
        url: str,
        *,
        interval_s: float = 10.0,
        tiers: Iterable[str] = ("dev",),
        probe_timeout_s: float = 2.0,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.url = url.rstrip("/")
        self.interval_s = interval_s
        self.tiers = list(tiers)
        self.probe_timeout_s = probe_timeout_s
        self._clock = clock
        self._status = VerifierStatus(self.url, None, clock())
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    # -- lifecycle -------------------------------------------------------------------------
    def start(self) -> None:
        self._thread = threading.Thread(target=self._run, name="verifier-monitor", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=self.probe_timeout_s + 1)

    def _run(self) -> None:
        with httpx.Client(timeout=self.probe_timeout_s) as http:
            while not self._stop.is_set():
                self.record(self._probe(http))
                self._stop.wait(self.interval_s)

    # -- state -----------------------------------------------------------------------------
    def status(self) -> VerifierStatus:
        with self._lock:
            return self._status

    def reachable(self) -> bool:
        """For the compile ranker: False only once a probe found the verifier down (unknown counts as up)."""
        return self.status().reachable is not False

    def _probe(self, http: httpx.Client) -> str | None:
        """None when the verifier answers 200, else what went wrong."""
        try:
            answer = http.get(self.url + "/healthz")
        except httpx.HTTPError as exc:
            return f"{type(exc).__name__}: {exc}" if str(exc) else type(exc).__name__
        if answer.status_code != 200:
            # A 503 health (no sandbox, no compiler) means it cannot verify: as good as down for ranking.
            return f"/healthz answered {answer.status_code}: {answer.text[:200]}"
        return None

    def record(self, error: str | None) -> None:
        """Take a probe's outcome; log the first and every change between reachable and not."""
        reachable = error is None
        with self._lock:
            before = self._status.reachable
            since = self._status.since if before is reachable else self._clock()
            self._status = VerifierStatus(self.url, reachable, since, error)
        if before is reachable:
            return
        tiers = "/".join(self.tiers) or "dev"
        if reachable:
            log.info("verifier at %s %s: the %s tier ranks by real compiles", self.url,
                     "reachable" if before is None else "reachable again", tiers)  # fmt: skip
        else:
            log.warning("verifier at %s NOT reachable (%s): the %s tier ranks without compiling (by the proxy, "
                        "or by length without one) until it is", self.url, error, tiers)  # fmt: skip

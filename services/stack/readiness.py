"""Waiting for the services: poll each one's /readyz until it answers 200, its process dies, or the
time is up; say what is being waited for (the first start builds the bootstrap model, minutes)."""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import httpx

from .errors import StackError
from .supervisor import Child

POLL_S = 0.5
REPEAT_S = 15.0  # an unchanged progress line is said again this often


@dataclass
class Pending:
    child: Child
    url: str
    said: str = ""
    said_at: float = 0.0


def _progress(name: str, status: int | None, body: dict[str, Any]) -> tuple[str, str]:
    """(what is awaited, the line to say) for a service not yet ready; the line is said again when the
    first changes or every REPEAT_S, not at every poll."""
    if status is None:
        return "starting", f"waiting for {name} (starting)..."
    phase = body.get("phase")
    if phase == "bootstrapping":
        progress = body.get("progress") or {}
        step, total = progress.get("step"), progress.get("total")
        at = f": step {step}/{total}" if step is not None and total else ""
        return "bootstrap", f"waiting for {name} (building the bootstrap model, first run only{at})..."
    if phase == "loading":
        return "loading", f"waiting for {name} (loading the model)..."
    what = str(body.get("status", status))
    return what, f"waiting for {name} ({what})..."


def _probe(http: httpx.Client, url: str) -> tuple[int | None, dict[str, Any]]:
    try:
        answer = http.get(url + "/readyz")
    except httpx.HTTPError:
        return None, {}
    try:
        body = answer.json()
    except ValueError:
        body = {}
    return answer.status_code, body if isinstance(body, dict) else {}


def wait_ready(services: Sequence[tuple[Child, str]], *, timeout_s: float, say: Callable[[str], None]) -> None:
    """Return once every (child, url) answers /readyz 200; StackError naming the first that died, failed to
    load its model, or was not ready within `timeout_s`."""
    pending = [Pending(child, url) for child, url in services]
    deadline = time.monotonic() + timeout_s
    with httpx.Client(timeout=5.0) as http:
        while pending:
            for item in list(pending):
                name = item.child.name
                code = item.child.exit_code()
                if code is not None:
                    raise StackError(f"{name} exited with code {code} while starting; its log "
                                     f"({item.child.log_path}) ends with:\n{item.child.tail()}")  # fmt: skip
                status, body = _probe(http, item.url)
                if status == 200:
                    say(f"{name} ready at {item.url} ({body.get('status', 'ready')})")
                    pending.remove(item)
                    continue
                if body.get("phase") == "failed" or body.get("status") == "failed":
                    raise StackError(f"{name} failed to start: {body.get('error', body)}; its log "
                                     f"({item.child.log_path}) ends with:\n{item.child.tail()}")  # fmt: skip
                (what, line), now = _progress(name, status, body), time.monotonic()
                if what != item.said or now - item.said_at > REPEAT_S:
                    say(line)
                    item.said, item.said_at = what, now
            if pending and time.monotonic() > deadline:
                names = ", ".join(p.child.name for p in pending)
                tails = "\n".join(f"--- {p.child.name} ({p.child.log_path}):\n{p.child.tail()}" for p in pending)
                raise StackError(f"not ready after {timeout_s:g}s: {names}\n{tails}")
            if pending:
                time.sleep(POLL_S)

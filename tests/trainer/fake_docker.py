"""A stand-in for the docker SDK's client, enough for ContainerLauncher: containers that exit as a test
plans them (an exit code, OOMKilled, their output) or run until signalled, with every call recorded."""

from __future__ import annotations

import itertools
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from docker.errors import APIError, NotFound

_ids = itertools.count(1)


@dataclass
class Plan:
    exit: int | None = 0  # at start; None: runs until signalled
    oom: bool = False
    out: bytes = b""
    err: bytes = b""
    obeys_term: bool = True  # SIGTERM ends it with 143
    fails_to_start: bool = False


class FakeContainer:
    def __init__(self, client: FakeClient, args: dict[str, Any], plan: Plan) -> None:
        self.client, self.args, self.plan = client, args, plan
        self.id = f"{next(_ids):064x}"
        self.short_id = self.id[:12]
        self.labels: dict[str, str] = dict(args.get("labels") or {})
        self.attrs: dict[str, Any] = {"State": {"Status": "created", "ExitCode": 0, "OOMKilled": False}}
        self.calls: list[str] = []
        self.log_since: list[float | None] = []

    @property
    def status(self) -> str:
        status: str = self.attrs["State"]["Status"]
        return status

    def exit(self, code: int, oom: bool = False) -> None:
        self.attrs["State"].update(Status="exited", ExitCode=code, OOMKilled=oom)

    def start(self) -> None:
        if self.plan.fails_to_start:
            raise APIError("exec: no such file or directory")
        self.attrs["State"]["Status"] = "running"
        if self.plan.exit is not None:
            self.exit(self.plan.exit, self.plan.oom)

    def reload(self) -> None:
        if self not in self.client.containers.items:
            raise NotFound(f"no container {self.id}")

    def kill(self, signal: str = "SIGKILL") -> None:
        self.calls.append(signal)
        if self.status == "running" and (signal == "SIGKILL" or self.plan.obeys_term):
            self.exit(143 if signal == "SIGTERM" else 137)

    def stop(self, timeout: int = 10) -> None:
        self.calls.append(f"stop:{timeout}")
        self.exit(143)

    def logs(self, *, stdout: bool, stderr: bool, stream: bool, follow: bool, since: float | None) -> Iterator[bytes]:
        self.log_since.append(since)
        return iter([self.plan.out if stdout else self.plan.err])

    def remove(self, force: bool = False) -> None:
        self.calls.append("remove")
        self.client.containers.items.remove(self)


class FakeContainers:
    def __init__(self, client: FakeClient) -> None:
        self.client = client
        self.items: list[FakeContainer] = []
        self.created: list[FakeContainer] = []

    def create(self, **args: Any) -> FakeContainer:
        plans = self.client.plans
        container = FakeContainer(self.client, args, plans.pop(0) if plans else Plan())
        self.items.append(container)
        self.created.append(container)
        return container

    def list(self, **kwargs: Any) -> list[FakeContainer]:  # (all=..., filters=...): `all` would shadow all()
        wanted = (kwargs.get("filters") or {}).get("label", [])
        wanted = [wanted] if isinstance(wanted, str) else wanted
        pairs = [tuple(w.split("=", 1)) for w in wanted]
        every = kwargs.get("all", False)
        return [
            c for c in self.items
            if (every or c.status == "running") and all(c.labels.get(k) == v for k, v in pairs)
        ]  # fmt: skip


class FakeImages:
    def __init__(self) -> None:
        self.pulled: list[str] = []

    def pull(self, image: str) -> None:
        self.pulled.append(image)


class FakeClient:
    def __init__(self, *plans: Plan, runtimes: tuple[str, ...] = ("runc",)) -> None:
        self.plans = list(plans)
        self.runtimes = runtimes
        self.down = False
        self.containers = FakeContainers(self)
        self.images = FakeImages()

    def ping(self) -> bool:
        if self.down:
            raise APIError("Cannot connect to the Docker daemon")
        return True

    def info(self) -> dict[str, Any]:
        return {"Runtimes": {name: {"path": name} for name in self.runtimes}}

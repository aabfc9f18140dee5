"""`cppforge demo`'s ports: the defaults when free, a free one (said so) in place of one that is held."""

from __future__ import annotations

import io
import os
import socket
import sys
from pathlib import Path
from typing import Any, ClassVar

import pytest

from services.demo.run import pick_ports, run_demo
from services.stack.local import StackError, StackUrls
from tests.helpers.servers import free_port


def test_a_held_port_is_replaced_and_named() -> None:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as held:
        held.bind(("127.0.0.1", 0))
        held.listen()
        busy = held.getsockname()[1]
        free_a, free_b = free_port(), free_port()
        said = io.StringIO()
        verifier, inference, trainer = pick_ports((free_a, busy, free_b), said)
    assert (verifier, trainer) == (free_a, free_b)
    assert inference not in (busy, free_a, free_b)
    assert said.getvalue() == f"port {busy} (inference) is busy: using {inference} instead\n"


def test_free_defaults_are_kept_silently() -> None:
    ports = (free_port(), free_port(), free_port())
    said = io.StringIO()
    assert pick_ports(ports, said) == ports and said.getvalue() == ""


class FakeStack:
    """services.stack.local's LocalStack, as far as run_demo uses it: records its config, yields `urls`."""

    configs: ClassVar[list[Any]] = []
    urls: Any = None
    fail: str | None = None

    def __init__(self, config: Any) -> None:
        FakeStack.configs.append(config)

    def __enter__(self) -> Any:
        if FakeStack.fail:
            raise StackError(FakeStack.fail)
        return FakeStack.urls

    def __exit__(self, *exc: object) -> None:
        return None


@pytest.fixture
def fake_stack(monkeypatch: pytest.MonkeyPatch) -> type[FakeStack]:
    """The demo's glue against the real StackConfig and StackError, with the stack's processes faked."""
    import services.stack.local as stack_local

    monkeypatch.setattr(stack_local, "LocalStack", FakeStack)
    FakeStack.configs, FakeStack.fail = [], None
    return FakeStack


def test_a_stack_that_does_not_start_exits_1(
    fake_stack: type[FakeStack], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    fake_stack.fail = "inference: not ready after 900 s; last log lines: ..."
    assert run_demo(tmp_path / "out") == 1
    assert capsys.readouterr().err == f"cppforge demo: the stack did not start: {fake_stack.fail}\n"
    (config,) = fake_stack.configs
    assert config.log is None and config.log_dir == tmp_path / "out" / "logs" and config.progress is sys.stdout


def test_a_failing_step_exits_1_naming_it(
    fake_stack: type[FakeStack], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    down = f"http://127.0.0.1:{free_port()}"
    fake_stack.urls = StackUrls(down, down, down, "")
    assert run_demo(tmp_path / "out") == 1
    reason = f"the verifier service at {down} does not answer (ConnectError)"
    assert capsys.readouterr().err == f"cppforge demo: step 'services' failed: {reason}\n"


def test_the_demo_leaves_the_environment_as_it_found_it(
    fake_stack: type[FakeStack], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("CPPFORGE_REGISTRY_DIR", "/users/own/registry")
    monkeypatch.delenv("CPPFORGE_JOBS_DIR", raising=False)
    fake_stack.fail = "no"
    run_demo(tmp_path / "out")
    assert os.environ["CPPFORGE_REGISTRY_DIR"] == "/users/own/registry" and "CPPFORGE_JOBS_DIR" not in os.environ

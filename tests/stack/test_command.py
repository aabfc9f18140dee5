"""`cppforge up` refuses a port already in use before starting anything; the banner says where
everything is and who may call it."""

from __future__ import annotations

import socket
from pathlib import Path

import pytest

from services.cli import main
from services.stack.command import _keys_line, banner, is_loopback, rollout_key_env
from services.stack.local import StackUrls
from tests.helpers.servers import free_port


def test_port_in_use_is_refused_before_anything_starts(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        port = busy.getsockname()[1]
        code = main(["up", "--home", str(tmp_path), "--verifier-port", str(free_port()), "--inference-port",
                     str(port), "--trainer-port", str(free_port()), "--redis-url", ""])  # fmt: skip
    err = capsys.readouterr().err
    assert code == 2 and f"inference: port {port} on 127.0.0.1 is already in use" in err
    assert "--inference-port" in err
    assert not (tmp_path / "logs").exists()  # nothing was started


def test_same_port_twice_is_refused(capsys: pytest.CaptureFixture[str]) -> None:
    port = str(free_port())
    assert main(["up", "--verifier-port", port, "--inference-port", port, "--redis-url", ""]) == 2
    assert "distinct ports" in capsys.readouterr().err


def test_banner() -> None:
    urls = StackUrls(verifier="http://127.0.0.1:1", inference="http://127.0.0.1:2", trainer="http://127.0.0.1:3",
                     redis="redis://:s3cret@127.0.0.1:4/0")  # fmt: skip
    text = banner(urls, redis_started=True, keys="none: open", log_dir=Path("/l"))
    assert "inference  http://127.0.0.1:2" in text and "redis://:***@127.0.0.1:4/0 (started by cppforge up)" in text
    assert "s3cret" not in text
    assert text.endswith("Ctrl-C stops everything.")
    assert "off" in banner(StackUrls("a", "b", "c", ""), redis_started=False, keys="k", log_dir=Path("/l"))


@pytest.mark.parametrize("host", ["0.0.0.0", "192.168.1.7", "::", "myhost"])
def test_open_mode_on_a_reachable_host_is_refused(
    host: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("CPPFORGE_API_KEYS", "")
    ports = ["--verifier-port", str(free_port()), "--inference-port", str(free_port()), "--trainer-port",
             str(free_port())]  # fmt: skip
    code = main(["up", "--host", host, "--home", str(tmp_path), *ports, "--redis-url", ""])
    err = capsys.readouterr().err
    assert code == 2 and f"--host {host} with no API keys" in err and "CPPFORGE_API_KEYS" in err
    assert not (tmp_path / "logs").exists()  # nothing was started


def test_keys_line_names_the_host(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CPPFORGE_API_KEYS", "")
    monkeypatch.setenv("CPPFORGE_OPEN_TIER", "dev")
    assert _keys_line("::1") == "none: open on ::1, every caller is tier dev"
    assert is_loopback("localhost") and is_loopback("127.0.0.2") and not is_loopback("0.0.0.0")
    monkeypatch.setenv("CPPFORGE_API_KEYS", "k1:dev")
    assert _keys_line("0.0.0.0") == "*** (dev)"  # keys set: any host


def test_the_banner_masks_the_keys(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CPPFORGE_API_KEYS", "sk-secret123:dev,sk-other-key:free")
    line = _keys_line("127.0.0.1")
    assert line == "sk-s*** (dev), sk-o*** (free)" and "secret" not in line


def test_a_keyed_stack_gives_the_runs_an_admin_key(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("CPPFORGE_INFERENCE_API_KEY", raising=False)
    monkeypatch.delenv("CPPFORGE_API_KEYS", raising=False)
    assert rollout_key_env() == ({}, None)  # open: no key needed
    monkeypatch.setenv("CPPFORGE_API_KEYS", "tk:train,dk:dev")
    monkeypatch.setenv("CPPFORGE_ADMIN_KEYS", "adm2, adm1")
    assert rollout_key_env() == ({"CPPFORGE_INFERENCE_API_KEY": "adm1"}, None)
    monkeypatch.setenv("CPPFORGE_INFERENCE_API_KEY", "mine")
    assert rollout_key_env() == ({}, None)  # the user's own wins (inherited by the children)
    monkeypatch.delenv("CPPFORGE_INFERENCE_API_KEY")
    monkeypatch.delenv("CPPFORGE_ADMIN_KEYS")
    env, warning = rollout_key_env()
    assert env == {} and warning is not None and "CPPFORGE_ADMIN_KEYS" in warning

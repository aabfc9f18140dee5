"""One settings base: every service reads the shared CPPFORGE_* names the same way."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from services.common.settings import (
    CppforgeSettings,
    InferenceSettings,
    TrainerServiceSettings,
    VerifierServiceSettings,
    VerifierSettings,
)
from services.inference.client import default_url as inference_url
from services.verifier.client import default_url as verifier_url

SERVICES = (CppforgeSettings, VerifierSettings, VerifierServiceSettings, InferenceSettings, TrainerServiceSettings)


@pytest.mark.parametrize("cls", SERVICES)
def test_shared_fields_and_defaults(cls: type[CppforgeSettings], monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("HOME", "REDIS_URL", "VERIFIER_URL", "INFERENCE_URL"):
        monkeypatch.delenv(f"CPPFORGE_{name}", raising=False)
    s = cls()
    assert issubclass(cls, CppforgeSettings)
    assert s.home == (Path.home() / ".cache" / "cppforge").resolve()
    assert s.redis_url == "redis://127.0.0.1:6379/0"
    assert (s.verifier_url, s.inference_url) == ("http://127.0.0.1:8001", "http://127.0.0.1:8002")


@pytest.mark.parametrize("cls", SERVICES)
def test_shared_env_names(cls: type[CppforgeSettings], monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("CPPFORGE_HOME", str(tmp_path / "x" / ".." / "home"))
    monkeypatch.setenv("CPPFORGE_REDIS_URL", "  ")
    monkeypatch.setenv("CPPFORGE_VERIFIER_URL", "http://v:1")
    monkeypatch.setenv("CPPFORGE_INFERENCE_URL", "http://i:2")
    s = cls()
    assert s.home == tmp_path / "home"  # absolute and normalised
    assert s.redis_url is None  # empty disables
    assert (s.verifier_url, s.inference_url) == ("http://v:1", "http://i:2")


def test_clients_read_the_urls_at_each_call(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CPPFORGE_VERIFIER_URL", "http://v:1")
    monkeypatch.setenv("CPPFORGE_INFERENCE_URL", "http://i:2")
    assert (verifier_url(), inference_url()) == ("http://v:1", "http://i:2")
    monkeypatch.setenv("CPPFORGE_VERIFIER_URL", "local")
    assert verifier_url() == "local"


def test_service_knobs_keep_their_env_names(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CPPFORGE_VERIFIER_PORT", "9001")
    monkeypatch.setenv("CPPFORGE_INFERENCE_PORT", "9002")
    monkeypatch.setenv("CPPFORGE_COMPILE_TIMEOUT_S", "7.5")
    monkeypatch.setenv("CPPFORGE_MODEL", "/models/m")
    assert VerifierServiceSettings().verifier_port == 9001
    assert InferenceSettings().inference_port == 9002
    assert InferenceSettings().model == "/models/m"
    assert VerifierSettings().compile_timeout_s == 7.5


def test_trainer_service_settings(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("CPPFORGE_HOME", str(tmp_path))
    s = TrainerServiceSettings()
    assert (s.trainer_host, s.trainer_port, s.jobs_root) == ("127.0.0.1", 8003, tmp_path / "trainer" / "jobs")
    monkeypatch.setenv("CPPFORGE_JOBS_DIR", str(tmp_path / "elsewhere" / ".." / "jobs"))
    monkeypatch.setenv("CPPFORGE_TRAINER_PORT", "9003")
    s = TrainerServiceSettings()
    assert (s.trainer_port, s.jobs_root) == (9003, tmp_path / "jobs")


@pytest.mark.parametrize(
    ("field", "value", "needle"),
    [
        ("rate_limits", "free:5,free:6", "twice"),
        ("verifier_url", "http://h:99999", "port"),
        ("verifier_url", "http://h/ path", "no spaces"),
        ("verifier_probe_interval_s", float("inf"), "finite"),
        ("adapter_dirs", "/abs:rel/dir", "relative"),
    ],
)
def test_inference_settings_refuse_ambiguous_values(field: str, value: object, needle: str) -> None:
    with pytest.raises(ValueError, match=needle):
        InferenceSettings(**{field: value})


def test_adapter_dir_entries_are_trimmed(tmp_path: Path) -> None:
    spec = f" {tmp_path / 'a'} {os.pathsep}{tmp_path / 'b'}/ "
    assert InferenceSettings(adapter_dirs=spec).adapter_roots == [tmp_path / "a", tmp_path / "b"]

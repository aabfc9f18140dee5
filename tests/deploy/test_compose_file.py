"""docker-compose.yml checked without a daemon: `docker-compose config -q` and its structure.

What the stack relies on: every service has a healthcheck and waits for its dependencies to be healthy,
settings are CPPFORGE_* variables with no secret written into the file except the documented dev
defaults behind ${...:-...}, the verifier's security options are exactly what bubblewrap needs, and the
trainer's GPU sits behind a profile.
"""

from __future__ import annotations

import json
import re
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[2]
COMPOSE = ROOT / "docker-compose.yml"
SERVICES = ("redis", "verifier", "inference", "trainer")


@pytest.fixture(scope="module")
def compose() -> dict[str, Any]:
    data: dict[str, Any] = yaml.safe_load(COMPOSE.read_text())
    return data


def compose_cli() -> list[str] | None:
    if shutil.which("docker-compose"):
        return ["docker-compose"]
    if shutil.which("docker"):
        probe = subprocess.run(["docker", "compose", "version"], capture_output=True, check=False)
        if probe.returncode == 0:
            return ["docker", "compose"]
    return None


def test_compose_config_is_valid() -> None:
    cli = compose_cli()
    if cli is None:
        pytest.skip("neither docker-compose nor the docker compose plugin is installed")
    done = subprocess.run([*cli, "-f", str(COMPOSE), "config", "-q"], capture_output=True, text=True, check=False)
    assert done.returncode == 0, done.stderr


def test_a_broken_compose_file_is_refused(tmp_path: Path) -> None:
    """The check above can fail: a depends_on condition compose does not know is an error."""
    cli = compose_cli()
    if cli is None:
        pytest.skip("neither docker-compose nor the docker compose plugin is installed")
    broken = COMPOSE.read_text().replace("condition: service_healthy", "condition: service_sunny", 1)
    (tmp_path / "docker-compose.yml").write_text(broken)
    done = subprocess.run([*cli, "-f", str(tmp_path / "docker-compose.yml"), "config", "-q"],
                          capture_output=True, text=True, check=False)  # fmt: skip
    assert done.returncode != 0


def test_every_service_has_a_healthcheck(compose: dict[str, Any]) -> None:
    for name in SERVICES:
        check = compose["services"][name]["healthcheck"]["test"]
        assert check[0] == "CMD" and len(check) > 1, name
    # the HTTP services probe their own health endpoints
    for name, port, path in (
        ("verifier", 8001, "healthz"),
        ("inference", 8002, "readyz"),
        ("trainer", 8003, "healthz"),
    ):
        assert f"http://127.0.0.1:{port}/{path}" in " ".join(compose["services"][name]["healthcheck"]["test"])


def test_dependencies_wait_for_health(compose: dict[str, Any]) -> None:
    expected = {
        "verifier": {"redis"},
        "inference": {"redis", "verifier"},
        "trainer": {"redis", "verifier", "inference"},
    }
    for name, deps in expected.items():
        depends = compose["services"][name]["depends_on"]
        assert set(depends) == deps, name
        assert all(d["condition"] == "service_healthy" for d in depends.values()), name


def test_settings_are_cppforge_env_and_point_at_service_names(compose: dict[str, Any]) -> None:
    services = compose["services"]
    for name in ("verifier", "inference", "trainer"):
        env = services[name]["environment"]
        assert all(key.startswith("CPPFORGE_") for key in env), name
        assert env["CPPFORGE_REDIS_URL"] == "redis://redis:6379/0"
    trainer = services["trainer"]["environment"]
    assert trainer["CPPFORGE_VERIFIER_URL"] == "http://verifier:8001"
    assert trainer["CPPFORGE_INFERENCE_URL"] == "http://inference:8002"
    assert trainer["CPPFORGE_JOB_USE_SERVICES"] == "1"
    inference = services["inference"]["environment"]
    assert inference["CPPFORGE_ADAPTER_DIRS"] == "/data"
    # the trainer pushes adapters into the volume the inference service loads them from
    assert "cppforge-data:/data" in services["trainer"]["volumes"]
    assert "cppforge-data:/data" in services["inference"]["volumes"]
    assert "redis-data:/data" in services["redis"]["volumes"]


def test_no_hard_coded_secrets(compose: dict[str, Any]) -> None:
    """Keys come from the environment; the only literal ones are the documented dev defaults of ${VAR:-...}."""
    for name, service in compose["services"].items():
        for key, value in (service.get("environment") or {}).items():
            if re.search(r"KEY|TOKEN|SECRET|PASSWORD", key):
                assert isinstance(value, str) and re.fullmatch(r"\$\{CPPFORGE_[A-Z_]+:-[^}]*\}", value), (name, key)
                assert "dev-" in value, (name, key)  # a default that says it is one
    text = COMPOSE.read_text()
    assert not re.search(r"(?i)(sk-[a-z0-9]{16,}|password\s*[:=]\s*\S)", text)


def test_verifier_security_options_are_exactly_what_bwrap_needs(compose: dict[str, Any]) -> None:
    verifier = compose["services"]["verifier"]
    assert verifier["security_opt"] == ["seccomp:./deploy/seccomp/cppforge-bwrap.json"]
    for key in ("privileged", "cap_add"):
        assert key not in verifier
    for name, service in compose["services"].items():
        assert "seccomp=unconfined" not in json.dumps(service.get("security_opt", [])), name
        assert not service.get("privileged"), name


def test_seccomp_profile_adds_only_bwrap_syscalls_to_the_default() -> None:
    profile = json.loads((ROOT / "deploy" / "seccomp" / "cppforge-bwrap.json").read_text())
    assert profile["defaultAction"] == "SCMP_ACT_ERRNO"
    unconditional = [r for r in profile["syscalls"] if r["action"] == "SCMP_ACT_ALLOW" and not r.get("includes")
                     and not r.get("excludes") and not r.get("args")]  # fmt: skip
    added = unconditional[-1]
    assert sorted(added["names"]) == ["clone", "mount", "pivot_root", "sethostname", "umount2", "unshare"]
    # the default's own unconditional list still grants none of them (they were CAP_SYS_ADMIN-only or absent)
    assert not set(unconditional[0]["names"]) & set(added["names"])
    # still refused outright: loading a kernel, joining other namespaces without CAP_SYS_ADMIN
    everything = {n for r in profile["syscalls"] if r["action"] == "SCMP_ACT_ALLOW" for n in r["names"]}
    assert "kexec_load" not in everything
    assert all("setns" not in r["names"] or r.get("includes", {}).get("caps") == ["CAP_SYS_ADMIN"]
               for r in profile["syscalls"])  # fmt: skip


def test_gpu_trainer_is_an_optional_profile(compose: dict[str, Any]) -> None:
    gpu = compose["services"]["trainer-gpu"]
    assert gpu["profiles"] == ["gpu"]
    devices = gpu["deploy"]["resources"]["reservations"]["devices"]
    assert devices[0]["capabilities"] == ["gpu"]
    assert "profiles" not in compose["services"]["trainer"]

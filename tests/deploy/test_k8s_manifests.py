"""deploy/k8s: every manifest validated offline against the Kubernetes schemas (kubernetes-validate, strict),
and checked against the code it deploys: env names are real settings, ports are the settings' defaults,
images are the services with a Dockerfile, the verifier's seccomp profile exists in deploy/seccomp."""

from __future__ import annotations

import re
import shutil
import socket
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import kubernetes_validate
import pytest
import yaml
from pydantic import ValidationError

from services.cli import build_parser
from services.common.config_docs import all_env_names
from services.common.settings import (
    CppforgeSettings,
    InferenceSettings,
    TrainerServiceSettings,
    VerifierServiceSettings,
    VerifierSettings,
)

ROOT = Path(__file__).resolve().parents[2]
K8S = ROOT / "deploy" / "k8s"
K8S_VERSION = "1.33.0"  # the oldest release with user namespaces (hostUsers: false) on by default
MANIFESTS = sorted(p for p in K8S.rglob("*.yaml") if p.name != "kustomization.yaml")
WORKLOAD_KINDS = {"Deployment", "StatefulSet", "DaemonSet", "Job"}
SERVICES = {"verifier": VerifierServiceSettings, "inference": InferenceSettings, "trainer": TrainerServiceSettings}


def docs(path: Path) -> list[dict[str, Any]]:
    return [d for d in yaml.safe_load_all(path.read_text()) if d]


def all_docs() -> list[dict[str, Any]]:
    return [d for p in MANIFESTS for d in docs(p)]


def find(kind: str, name: str) -> dict[str, Any]:
    (doc,) = [d for d in all_docs() if d["kind"] == kind and d["metadata"].get("name") == name]
    return doc


def pod_spec(workload: dict[str, Any]) -> dict[str, Any]:
    spec: dict[str, Any] = workload["spec"]["template"]["spec"]
    return spec


def containers(workload: dict[str, Any]) -> Iterator[dict[str, Any]]:
    spec = pod_spec(workload)
    yield from spec.get("initContainers", [])
    yield from spec["containers"]


def workloads() -> list[dict[str, Any]]:
    return [d for d in all_docs() if d["kind"] in WORKLOAD_KINDS]


@pytest.fixture
def no_network(monkeypatch: pytest.MonkeyPatch) -> None:
    """Validation must use the schemas kubernetes-validate ships: any connection attempt fails the test."""

    def refuse(*_args: object, **_kwargs: object) -> None:
        raise AssertionError("kubernetes-validate tried the network")

    monkeypatch.setattr(socket.socket, "connect", refuse)
    monkeypatch.setattr(socket, "create_connection", refuse)


def test_manifests_found() -> None:
    names = {p.relative_to(K8S).as_posix() for p in MANIFESTS}
    assert {"verifier.yaml", "inference.yaml", "trainer.yaml", "redis.yaml", "jobs/train-multigpu.yaml"} <= names


@pytest.mark.parametrize("path", MANIFESTS, ids=lambda p: p.relative_to(K8S).as_posix())
def test_manifest_validates_strict(path: Path, no_network: None) -> None:
    for doc in docs(path):
        # Raises on a schema violation, and SchemaNotFoundError for an unknown kind/apiVersion (which the CLI
        # only warns about): both fail here.
        kubernetes_validate.validate(doc, K8S_VERSION, strict=True)


def test_strict_validation_rejects_a_misspelt_field(no_network: None) -> None:
    deployment = find("Deployment", "verifier")
    pod_spec(deployment)["containers"][0]["readinesProbe"] = pod_spec(deployment)["containers"][0]["readinessProbe"]
    with pytest.raises(kubernetes_validate.ValidationError, match="readinesProbe"):
        kubernetes_validate.validate(deployment, K8S_VERSION, strict=True)


def test_cli_validates_every_file_strict() -> None:
    cli = Path(sys.executable).with_name("kubernetes-validate")
    # --quiet: its success line needs metadata.name, which the training Job leaves to generateName.
    proc = subprocess.run(
        [str(cli), "--strict", "--quiet", "-k", K8S_VERSION, *map(str, MANIFESTS)],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert proc.stdout == "", proc.stdout  # no WARN (unknown kind) or ERROR line either


def test_kustomization_lists_exactly_the_top_level_files() -> None:
    kustomization = yaml.safe_load((K8S / "kustomization.yaml").read_text())
    top_level = {p.name for p in K8S.glob("*.yaml") if p.name != "kustomization.yaml"}
    assert sorted(kustomization["resources"]) == sorted(top_level)
    images = {i["name"] for i in kustomization["images"]}
    used = {c["image"].split(":")[0] for w in workloads() for c in containers(w) if "cppforge-" in c["image"]}
    assert images == used == {f"cppforge-{s}" for s in SERVICES}


@pytest.mark.skipif(shutil.which("kubectl") is None, reason="kubectl not installed (kustomize build check)")
def test_kustomize_build_renders_the_namespaced_stack(no_network: None) -> None:
    proc = subprocess.run(["kubectl", "kustomize", str(K8S)], capture_output=True, text=True, timeout=120, check=True)
    rendered = [d for d in yaml.safe_load_all(proc.stdout) if d]
    for doc in rendered:
        kubernetes_validate.validate(doc, K8S_VERSION, strict=True)
        if doc["kind"] != "Namespace":
            assert doc["metadata"]["namespace"] == "cppforge", doc["metadata"]
    kinds = sorted(d["kind"] for d in rendered)
    assert kinds.count("Deployment") == 3 and "Job" not in kinds and "DaemonSet" not in kinds


def test_every_container_has_requests_and_limits() -> None:
    for workload in workloads():
        for container in containers(workload):
            resources = container.get("resources", {})
            for part in ("requests", "limits"):
                assert {"cpu", "memory"} <= set(resources.get(part, {})), (workload["metadata"], container["name"])


def test_every_long_running_container_has_probes() -> None:
    checked = 0
    for workload in workloads():
        if workload["kind"] not in {"Deployment", "StatefulSet"}:
            continue
        for container in pod_spec(workload)["containers"]:
            assert "readinessProbe" in container and "livenessProbe" in container, container["name"]
            if container["name"] in SERVICES:
                assert container["readinessProbe"]["httpGet"]["path"] == "/readyz"
                assert container["livenessProbe"]["httpGet"]["path"] == "/healthz"
                assert container["startupProbe"]["httpGet"]["path"] == "/healthz"
            checked += 1
    assert checked == 4  # verifier, inference, trainer, redis


def test_service_ports_are_the_settings_defaults() -> None:
    for name, settings_cls in SERVICES.items():
        default = settings_cls.model_fields[f"{name}_port"].default
        (container,) = pod_spec(find("Deployment", name))["containers"]
        assert container["ports"] == [{"name": "http", "containerPort": default}]
        env = {e["name"]: e.get("value") for e in container["env"]}
        assert env[f"CPPFORGE_{name.upper()}_PORT"] == str(default)
        assert env[f"CPPFORGE_{name.upper()}_HOST"] == "0.0.0.0"  # reachable from the Service
        assert find("Service", name)["spec"]["ports"][0]["port"] == default
        config = find("ConfigMap", "cppforge-config")["data"]
        if name != "trainer":  # the clients' URLs point at the Services
            assert config[f"CPPFORGE_{name.upper()}_URL"] == f"http://{name}:{default}"
    assert find("Service", "redis")["spec"]["ports"][0]["port"] == 6379


def manifest_env_names() -> set[str]:
    names: set[str] = set()
    for doc in all_docs():
        if doc["kind"] in {"ConfigMap", "Secret"}:
            names |= set(doc.get("data", {})) | set(doc.get("stringData", {}))
        if doc["kind"] in WORKLOAD_KINDS:
            names |= {e["name"] for c in containers(doc) for e in c.get("env", [])}
    return {n for n in names if n.startswith("CPPFORGE_")}


def test_every_cppforge_env_name_is_a_setting() -> None:
    names = manifest_env_names()
    assert len(names) >= 15
    unknown = names - set(all_env_names())
    assert not unknown, f"not fields of any settings class (typo?): {sorted(unknown)}"


def test_manifest_env_values_pass_the_settings_validators(monkeypatch: pytest.MonkeyPatch) -> None:
    config = find("ConfigMap", "cppforge-config")["data"]
    readers = {
        "verifier": (VerifierServiceSettings, VerifierSettings),
        "inference": (InferenceSettings,),
        "trainer": (TrainerServiceSettings,),
    }
    for name, classes in readers.items():
        (container,) = pod_spec(find("Deployment", name))["containers"]
        env = dict(config) | {e["name"]: e["value"] for e in container["env"] if "value" in e}
        with monkeypatch.context() as m:
            for key, value in env.items():
                m.setenv(key, value)
            for cls in classes:
                settings = cls()
                assert isinstance(settings, CppforgeSettings)
                assert settings.redis_url == "redis://redis:6379/0"


def test_secret_placeholders_stop_the_services_until_replaced(monkeypatch: pytest.MonkeyPatch) -> None:
    keys = find("Secret", "cppforge-keys")["stringData"]
    assert set(keys) == {"CPPFORGE_API_KEYS", "CPPFORGE_ADMIN_KEYS", "CPPFORGE_INFERENCE_API_KEY"}
    assert all(v.startswith("REPLACE-ME") for v in keys.values())
    monkeypatch.setenv("CPPFORGE_API_KEYS", keys["CPPFORGE_API_KEYS"])
    for cls in (InferenceSettings, TrainerServiceSettings):
        with pytest.raises(ValidationError, match="CPPFORGE_API_KEYS"):
            cls()


def test_images_are_the_services_with_a_dockerfile() -> None:
    for workload in workloads():
        for container in containers(workload):
            image = container["image"]
            if image.startswith("cppforge-"):
                service = image.split(":")[0].removeprefix("cppforge-")
                assert re.fullmatch(r"cppforge-[a-z]+:\d+\.\d+\.\d+", image), image
                assert (ROOT / "services" / service / "Dockerfile").is_file(), (
                    f"{image}: services/{service}/Dockerfile is missing (written by the images branch)"
                )


def test_verifier_sandbox_security_context() -> None:
    spec = pod_spec(find("Deployment", "verifier"))
    assert spec["hostUsers"] is False  # procMount Unmasked requires a user namespace
    assert spec["securityContext"]["runAsNonRoot"] is True
    (container,) = spec["containers"]
    ctx = container["securityContext"]
    assert ctx["procMount"] == "Unmasked" and ctx["readOnlyRootFilesystem"] is True
    assert ctx["capabilities"] == {"drop": ["ALL"]} and ctx["allowPrivilegeEscalation"] is False
    assert spec["securityContext"]["seccompProfile"]["type"] == "Localhost"


def test_verifier_seccomp_profile_is_in_deploy_seccomp() -> None:
    profile = pod_spec(find("Deployment", "verifier"))["securityContext"]["seccompProfile"]
    path = ROOT / "deploy" / "seccomp" / profile["localhostProfile"]
    assert path.is_file(), f"{path} is missing: the images branch writes it (docker's security_opt uses it too)"


def test_pods_run_as_non_root_with_a_seccomp_profile() -> None:
    for workload in workloads():
        spec = pod_spec(workload)
        assert spec["securityContext"]["seccompProfile"]["type"] in {"RuntimeDefault", "Localhost"}
        assert spec.get("automountServiceAccountToken") is False
        for container in spec["containers"]:
            ctx = spec["securityContext"] | container.get("securityContext", {})
            assert ctx.get("runAsNonRoot") is True, (workload["metadata"]["name"], container["name"])
            assert container["securityContext"]["capabilities"]["drop"] == ["ALL"]


def _quantity_mib(value: str) -> int:
    number, unit = re.fullmatch(r"(\d+)(Mi|Gi)", value).groups()  # type: ignore[union-attr]
    return int(number) * (1024 if unit == "Gi" else 1)


def test_verifier_sizing_follows_its_settings() -> None:
    spec = pod_spec(find("Deployment", "verifier"))
    (container,) = spec["containers"]
    env = {e["name"]: e["value"] for e in container["env"]}
    workers, compile_mb = int(env["CPPFORGE_VERIFIER_WORKERS"]), int(env["CPPFORGE_COMPILE_MEMORY_MB"])
    # Every worker may hold a g++ build at its cap at once: the pod must not be OOM-killed for it.
    assert _quantity_mib(container["resources"]["limits"]["memory"]) >= workers * compile_mb + 512
    assert int(container["resources"]["requests"]["cpu"]) == workers
    cache = {v["name"]: v for v in spec["volumes"]}["cache"]
    assert _quantity_mib(cache["emptyDir"]["sizeLimit"]) > int(env["CPPFORGE_PCH_MAX_MB"])
    assert env["CPPFORGE_PCH_DIR"].startswith({m["name"]: m["mountPath"] for m in container["volumeMounts"]}["cache"])


def test_training_job_runs_torchrun_on_every_requested_gpu() -> None:
    (job,) = [d for d in all_docs() if d["kind"] == "Job"]
    (container,) = pod_spec(job)["containers"]
    command, args = container["command"], container["args"]
    assert command[0] == "torchrun" and command[-3:] == ["-m", "services.cli", "train"]
    (nproc,) = [int(c.split("=")[1]) for c in command if c.startswith("--nproc_per_node=")]
    resources = container["resources"]
    assert resources["limits"]["nvidia.com/gpu"] == resources["requests"]["nvidia.com/gpu"] == nproc >= 2
    parsed = build_parser().parse_args(["train", *args])  # the real CLI accepts the arguments
    assert parsed.verifier_url == "http://verifier:8001" and parsed.out.startswith("/data/")
    mounts = {m["mountPath"] for m in container["volumeMounts"]}
    assert {"/data", "/dev/shm"} <= mounts

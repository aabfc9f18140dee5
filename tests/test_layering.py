"""Import layering: the shared libraries never reach into a serving or training package.

Arrows go one way: the services (verifier's pool/service/app, inference, trainer) import the
libraries (`services/verifier/core`, `services/lm`, `services/tasks`, `services/common`), never the
reverse, so the trainer can use the libraries without starting a service and no library change
can be made to depend on serving code. Read from each module's syntax tree (imports inside
functions included), resolved to absolute module names; the package `__init__`s that run on every
import of a library count as part of it, each library has an allowlist of `services` packages (so a
new serving package is caught without being named here), and dynamic imports are refused.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
# library package -> the only `services.*` packages it may import (anything else under `services` is
# serving or training code, present or future), plus third-party modules it must not need.
ALLOWED = {
    "services.verifier.core": ("services.verifier.core", "services.common"),
    "services.lm": ("services.lm", "services.tasks", "services.common"),
    "services.tasks": ("services.tasks",),
    "services.common": ("services.common",),
    # The trainer uses the libraries, the verifier's core and client, and only the client of inference.
    "services.trainer": (
        "services.trainer",
        "services.common",
        "services.tasks",
        "services.lm",
        "services.verifier.core",
        "services.verifier.client",
        "services.inference.client",
    ),
}
THIRD_PARTY_FORBIDDEN = {
    "services.tasks": ("torch", "transformers", "fastapi", "httpx", "numpy"),
    "services.verifier.core": ("torch", "transformers", "fastapi", "uvicorn"),
    "services.lm": ("fastapi", "uvicorn"),
    "services.common": ("torch", "transformers"),
}
# A dynamic import hides its arrow from this test, so a library may not use one.
DYNAMIC_IMPORTS = ("importlib", "__import__")


def _module_name(path: Path, root: Path) -> str:
    parts = list(path.relative_to(root).with_suffix("").parts)
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def imports_of(path: Path, root: Path = ROOT) -> set[str]:
    """Absolute names of every module `path` imports (relative imports resolved)."""
    package = _module_name(path, root).split(".")
    if path.name != "__init__.py":
        package = package[:-1]
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = package[: len(package) - node.level + 1] if node.level else []
            module = ".".join([*base, *([node.module] if node.module else [])])
            found.add(module)
            found.update(f"{module}.{alias.name}" for alias in node.names)
    return found


def _init_chain(library: str, root: Path) -> list[Path]:
    """The package `__init__`s that run on every import of `library` (`services/__init__.py`...)."""
    parts = library.split(".")
    return [root.joinpath(*parts[:i], "__init__.py") for i in range(1, len(parts))]


def _forbidden(library: str, name: str) -> bool:
    if name.split(".")[0] in DYNAMIC_IMPORTS:
        return True
    if name == "services" or name.startswith("services."):
        allowed = ALLOWED[library]
        return not any(name == ok or name.startswith(ok + ".") for ok in allowed) and name != "services"
    return any(name == bad or name.startswith(bad + ".") for bad in THIRD_PARTY_FORBIDDEN.get(library, ()))


def _violations(library: str, root: Path = ROOT) -> list[str]:
    folder = root / library.replace(".", "/")
    out = []
    for path in [*(p for p in _init_chain(library, root) if p.exists()), *sorted(folder.rglob("*.py"))]:
        names = imports_of(path, root)
        text = path.read_text()
        names |= {d for d in DYNAMIC_IMPORTS if f"{d}(" in text or f"import {d}" in text}
        for name in sorted(names):
            if _forbidden(library, name):
                out.append(f"{path.relative_to(root)} imports {name}")
    return out


@pytest.mark.parametrize("library", sorted(ALLOWED))
def test_libraries_never_import_serving_code(library: str) -> None:
    if not (ROOT / library.replace(".", "/")).is_dir():
        pytest.skip(f"{library} does not exist yet")
    assert _violations(library) == []


def test_the_check_sees_a_wrong_arrow(tmp_path: Path) -> None:
    # Every spelling of a wrong arrow must be caught, or the test above could not fail.
    core = tmp_path / "services" / "verifier" / "core"
    core.mkdir(parents=True)
    (tmp_path / "services" / "__init__.py").write_text("from .trainer import loop\n")
    (core / "probe.py").write_text("from ..service import VerifierService\nimport services.inference.app\n")
    (core / "lazy.py").write_text("def f():\n    import importlib\n    return importlib.import_module('x')\n")
    (core / "fine.py").write_text("from .compile import build\nfrom ...common import settings\n")
    assert _violations("services.verifier.core", tmp_path) == [
        "services/__init__.py imports services.trainer",
        "services/__init__.py imports services.trainer.loop",
        "services/verifier/core/lazy.py imports importlib",
        "services/verifier/core/probe.py imports services.inference.app",
        "services/verifier/core/probe.py imports services.verifier.service",
        "services/verifier/core/probe.py imports services.verifier.service.VerifierService",
    ]


def test_the_trainer_may_use_clients_but_not_services(tmp_path: Path) -> None:
    trainer = tmp_path / "services" / "trainer"
    trainer.mkdir(parents=True)
    (trainer / "ok.py").write_text(
        "from ..inference.client import InferenceClient\nfrom ..verifier.core.verify import verify_cpp\n"
        "from ..verifier.client import VerifierClient\nfrom ..lm import model\nfrom .config import TrainConfig\n"
    )
    (trainer / "wrong.py").write_text(
        "from ..inference.service import InferenceService\nimport services.verifier.pool\n"
    )
    assert _violations("services.trainer", tmp_path) == [
        "services/trainer/wrong.py imports services.inference.service",
        "services/trainer/wrong.py imports services.inference.service.InferenceService",
        "services/trainer/wrong.py imports services.verifier.pool",
    ]

"""Import layering: the shared libraries never reach into a serving or training package.

Arrows go one way: the services (verifier's pool/service/app, inference, trainer) import the
libraries (`services/verifier/core`, `services/lm`, `services/tasks`, `services/common`), never the
reverse, so the trainer can use the libraries without starting a service and no library change
can be made to depend on serving code. Read from each module's syntax tree (imports inside
functions included), resolved to absolute module names.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
SERVING = ("services.inference", "services.trainer", "services.cli", "services.demo")
VERIFIER_SERVING = tuple(
    f"services.verifier.{m}" for m in ("app", "service", "pool", "cache", "metrics", "protocol", "client", "adapters")
)
# library package -> what it must never import
FORBIDDEN = {
    "services.verifier.core": (*SERVING, *VERIFIER_SERVING),
    "services.lm": (*SERVING, "services.verifier"),
    "services.tasks": (*SERVING, "services.verifier", "services.lm", "torch", "transformers", "fastapi", "httpx"),
    "services.common": (*SERVING, "services.verifier", "services.lm", "services.tasks"),
}


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


def _violations(library: str, root: Path = ROOT) -> list[str]:
    folder = root / library.replace(".", "/")
    out = []
    for path in sorted(folder.rglob("*.py")):
        for name in sorted(imports_of(path, root)):
            if any(name == bad or name.startswith(bad + ".") for bad in FORBIDDEN[library]):
                out.append(f"{path.relative_to(root)} imports {name}")
    return out


@pytest.mark.parametrize("library", sorted(FORBIDDEN))
def test_libraries_never_import_serving_code(library: str) -> None:
    if not (ROOT / library.replace(".", "/")).is_dir():
        pytest.skip(f"{library} does not exist yet")
    assert _violations(library) == []


def test_the_check_sees_a_wrong_arrow(tmp_path: Path) -> None:
    # The resolver must catch both spellings of a wrong arrow, or the test above could not fail.
    core = tmp_path / "services" / "verifier" / "core"
    core.mkdir(parents=True)
    (core / "probe.py").write_text("from ..service import VerifierService\nimport services.inference.app\n")
    (core / "fine.py").write_text("from .compile import build\nfrom ...common import settings\n")
    assert _violations("services.verifier.core", tmp_path) == [
        "services/verifier/core/probe.py imports services.inference.app",
        "services/verifier/core/probe.py imports services.verifier.service",
        "services/verifier/core/probe.py imports services.verifier.service.VerifierService",
    ]

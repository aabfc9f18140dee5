"""The package's version: the installed distribution's, else the source tree's pyproject.toml."""

from __future__ import annotations

import re
from importlib import metadata
from pathlib import Path

DIST_NAME = "cppforge"
_PYPROJECT = Path(__file__).resolve().parents[1] / "pyproject.toml"
_VERSION_LINE = re.compile(r'^version\s*=\s*"([^"]+)"\s*$', re.MULTILINE)


def package_version() -> str:
    """`cppforge`'s version; "unknown" when neither the metadata nor a pyproject.toml has one."""
    try:
        return metadata.version(DIST_NAME)
    except metadata.PackageNotFoundError:  # run from a source tree that was never installed
        return pyproject_version(_PYPROJECT) or "unknown"


def pyproject_version(path: Path) -> str | None:
    """[project].version of a pyproject.toml (a regex on its first `version = "..."` line: no tomllib on 3.10)."""
    try:
        text = path.read_text(encoding="utf-8")
    except OSError:
        return None
    project = text.split("[project]", 1)
    if len(project) < 2:
        return None
    section = re.split(r"^\[", project[1], maxsplit=1, flags=re.MULTILINE)[0]
    match = _VERSION_LINE.search(section)
    return match.group(1) if match else None

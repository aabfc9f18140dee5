"""docs/configuration.md is generated from the settings classes; regenerating must give the same bytes."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

from services.common.config_docs import GROUPS, all_env_names, render_markdown

ROOT = Path(__file__).resolve().parents[2]
DOC = ROOT / "docs" / "configuration.md"
SCRIPT = ROOT / "scripts" / "gen_config_docs.py"


def test_committed_doc_is_up_to_date() -> None:
    assert DOC.read_text(encoding="utf-8") == render_markdown(), "stale: run scripts/gen_config_docs.py"


def test_script_check_detects_a_stale_file(tmp_path: Path) -> None:
    out = tmp_path / "configuration.md"
    assert subprocess.run([sys.executable, str(SCRIPT), "--out", str(out)], timeout=60).returncode == 0
    assert out.read_bytes() == DOC.read_bytes()
    check = [sys.executable, str(SCRIPT), "--out", str(out), "--check"]
    assert subprocess.run(check, timeout=60).returncode == 0
    out.write_text(out.read_text().replace("CPPFORGE_VERIFIER_PORT", "CPPFORGE_VERIFIER_PROT"))
    stale = subprocess.run(check, capture_output=True, text=True, timeout=60)
    assert stale.returncode == 1 and "stale" in stale.stderr


def test_every_field_is_documented_once() -> None:
    text = render_markdown()
    rows = re.findall(r"^\| `(CPPFORGE_[A-Z0-9_]+)` \|", text, flags=re.MULTILINE)
    assert sorted(rows) == sorted(all_env_names()) and len(rows) == len(set(rows))
    for group in GROUPS:
        for name, info in group.cls.model_fields.items():
            assert info.description, f"{group.cls.__name__}.{name} has no description (docs/configuration.md)"


def test_shared_and_per_service_readers() -> None:
    names = all_env_names()
    assert names["CPPFORGE_REDIS_URL"] == ("verifier", "inference", "trainer", "cli")
    assert names["CPPFORGE_API_KEYS"] == ("inference", "trainer")  # the one field two services define
    assert names["CPPFORGE_VERIFIER_PORT"] == ("verifier",)
    row = next(line for line in render_markdown().splitlines() if line.startswith("| `CPPFORGE_HOME`"))
    assert "~/.cache/cppforge" in row and str(Path.home()) not in row  # no machine-dependent default


def test_readme_settings_table_names_real_settings_and_links_the_reference() -> None:
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    section = readme.split("### Settings (environment)", 1)[1].split("\n## ", 1)[0]
    assert "docs/configuration.md" in section
    named = set(re.findall(r"`(CPPFORGE_[A-Z0-9_]+)`", section))
    assert len(named) >= 30
    assert not named - set(all_env_names()), f"README names unknown settings: {sorted(named - set(all_env_names()))}"

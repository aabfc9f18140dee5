"""`cppforge registry ...` in-process: add, list (table and JSON), show, eval (the harness call stubbed with a
report shaped like its summary.json), promote (refused with the numbers, then accepted), retire."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from services.cli import main
from services.common.settings import get_settings
from services.trainer import registry_command
from services.trainer.registry import load_adapter_artifact, model_content_hash
from tests.helpers.registry import eval_report, fake_adapter, fake_base_model


@pytest.fixture
def root(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    monkeypatch.setenv("CPPFORGE_REGISTRY_DIR", str(tmp_path / "registry"))
    get_settings.cache_clear()
    yield tmp_path / "registry"
    get_settings.cache_clear()


class _Report:
    def __init__(self, doc: dict[str, Any]) -> None:
        self.doc = doc
        self.pass_at_k = {k: v for k, v in doc.items() if k.startswith("pass@")}

    def to_dict(self) -> dict[str, Any]:
        return self.doc


def _run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    code = main(["registry", *argv])
    out, err = capsys.readouterr()
    return code, out, err


def test_registry_commands_end_to_end(
    root: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    base = fake_base_model(tmp_path / "base")
    run = tmp_path / "run"
    fake_adapter(run / "adapter", seed=1)
    (run / "config.json").write_text(json.dumps({"recipe": "grpo", "method": "grpo", "model": str(base)}))
    (run / "summary.json").write_text(json.dumps({"steps": 7, "config": {"method": "grpo"}}))
    code, out, _ = _run(capsys, "add", str(run / "adapter"), "--name", "job-1", "--method", "grpo")
    assert code == 0 and out.startswith("registered job-1 (draft, grpo) on base base (")
    art = load_adapter_artifact("job-1", root=root)
    assert art.base_model == str(base.resolve()) and art.metrics == {"steps": 7} and art.config["recipe"] == "grpo"
    fake_adapter(tmp_path / "loose", seed=2)
    assert (
        _run(capsys, "add", str(tmp_path / "loose"), "--name", "job-2", "--method", "sft", "--base", str(base))[0] == 0
    )

    code, out, _ = _run(capsys, "list")
    lines = out.splitlines()
    assert code == 0 and lines[0].split() == ["name", "status", "method", "base", "pass@k", "created"]
    assert lines[1].split()[:4] == ["job-1", "draft", "grpo", "base"] and " - " in lines[1]

    # Promotion needs an eval: refused, exit 2, the reason on one line.
    code, _, err = _run(capsys, "promote", "job-1")
    assert code == 2
    assert (
        err
        == "cppforge: error: refused: job-1 has no eval recorded by the harness; run `cppforge registry eval job-1`\n"
    )

    calls: list[dict[str, Any]] = []
    reports = {"job-1": eval_report(0.31), "job-2": eval_report(0.12)}

    def harness(**kw: Any) -> _Report:
        calls.append(kw)
        name = Path(kw["adapter_dir"]).name
        weights = "adapter_model.safetensors"
        # It reads a private copy of the registered bytes, not the registry's dir (which may change meanwhile).
        assert (Path(kw["adapter_dir"]) / weights).read_bytes() == (root / "adapters" / name / weights).read_bytes()
        assert Path(kw["adapter_dir"]) != root / "adapters" / name
        return _Report(reports[name])

    monkeypatch.setattr(registry_command, "run_harness", harness)
    code, out, _ = _run(capsys, "eval", "job-1", "--n", "10", "--k", "5,1", "--limit", "151")
    assert code == 0 and out.startswith("job-1: pass@1=0.310 pass@5=0.620 (humaneval_cpp.jsonl 151 tasks, n=10)")
    assert calls[0]["model_path"] == str(base.resolve()) and not Path(calls[0]["adapter_dir"]).exists()  # removed
    assert calls[0]["ks"] == (1, 5) and calls[0]["n"] == 10 and calls[0]["limit"] == 151
    assert load_adapter_artifact("job-1", root=root).eval.base_model_sha256 == model_content_hash(base)  # type: ignore[union-attr]
    assert _run(capsys, "promote", "job-1")[:2] == (0, "job-1 is now active (pass@1 0.310, gate 0.050)\n")

    assert _run(capsys, "eval", "job-2")[0] == 0
    code, _, err = _run(capsys, "promote", "job-2")
    assert code == 2 and err == (
        "cppforge: error: refused: job-2 pass@1 0.120 does not beat active job-1 pass@1 0.310 "
        "(same eval: humaneval_cpp.jsonl 151 tasks, n=10)\n"
    )
    code, _, err = _run(capsys, "promote", "job-2", "--metric", "pass@5", "--gate", "0.2")  # clears 0.2, not 0.620
    assert code == 2 and "refused: job-2 pass@5 0.240 does not beat active job-1 pass@5 0.620" in err

    code, out, _ = _run(capsys, "list", "--json")
    rows = {r["name"]: r for r in json.loads(out)}
    assert code == 0 and rows["job-1"]["status"] == "active" and rows["job-2"]["eval"]["pass_at_k"]["pass@1"] == 0.12

    code, out, _ = _run(capsys, "show", "job-1")
    shown = json.loads(out)
    assert code == 0 and shown["status"] == "active" and shown["eval"]["n"] == 10

    calls.clear()
    code, _, err = _run(capsys, "eval", "job-1")  # the active one keeps its promotion eval
    assert code == 2 and "job-1 is active: it keeps the eval it was promoted on" in err and calls == []
    assert _run(capsys, "retire", "job-1")[:2] == (0, "job-1 retired\n")
    assert _run(capsys, "promote", "job-2")[:2] == (0, "job-2 is now active (pass@1 0.120, gate 0.050)\n")


def test_registry_command_errors(root: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = _run(capsys, "list")
    assert code == 0 and out.startswith("the registry is empty")
    assert _run(capsys, "show", "nope")[:3] == (2, "", "cppforge: error: no adapter named 'nope' in the registry\n")
    code, _, err = _run(capsys, "add", str(tmp_path), "--name", "x", "--method", "sft", "--base", str(tmp_path))
    assert code == 2 and "no adapter_config.json" in err
    code, _, err = _run(capsys, "eval", "nope", "--n", "4", "--k", "1,5")
    assert code == 2 and err == "cppforge: error: --k values must be in 1..n (n=4), not 1,5\n"
    base = fake_base_model(tmp_path / "base")
    fake_adapter(tmp_path / "a")
    assert _run(capsys, "add", str(tmp_path / "a"), "--name", "a", "--method", "sft", "--base", str(base))[0] == 0
    (root / "adapters" / "a" / "adapter_model.safetensors").write_bytes(b"tampered")
    code, _, err = _run(capsys, "show", "a")
    assert code == 1 and "'a' is corrupt or was tampered with" in err
    fake_adapter(tmp_path / "b")
    assert _run(capsys, "add", str(tmp_path / "b"), "--name", "b", "--method", "sft", "--base", str(base))[0] == 0
    fake_base_model(base, seed=5)  # the base's weights changed since b was registered
    code, _, err = _run(capsys, "eval", "b")
    assert code == 2 and "is not the one b was trained on" in err


def test_eval_is_not_recorded_when_the_base_changes_during_it(
    root: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    base = fake_base_model(tmp_path / "base")
    fake_adapter(tmp_path / "a")
    assert _run(capsys, "add", str(tmp_path / "a"), "--name", "a", "--method", "sft", "--base", str(base))[0] == 0

    def harness(**kw: Any) -> _Report:
        fake_base_model(base, seed=9)  # rewritten while the harness had it loaded
        return _Report(eval_report(0.5))

    monkeypatch.setattr(registry_command, "run_harness", harness)
    code, _, err = _run(capsys, "eval", "a")
    assert code == 2 and "the base model's files at" in err and "changed during the eval: it is not recorded" in err
    assert load_adapter_artifact("a", root=root).eval is None


def test_damaged_registry_files_are_one_line_errors(
    root: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """Hand-edited or damaged index and manifests: exit 1 and one line naming what is wrong, never a traceback."""
    base = fake_base_model(tmp_path / "base")
    fake_adapter(tmp_path / "a")
    assert _run(capsys, "add", str(tmp_path / "a"), "--name", "a", "--method", "sft", "--base", str(base))[0] == 0
    index_file, manifest_file = root / "index.json", root / "adapters" / "a" / "manifest.json"
    good_index, good_manifest = index_file.read_text(), manifest_file.read_text()

    def edit(path: Path, change: Any) -> None:
        doc = json.loads(path.read_text())
        change(doc)
        path.write_text(json.dumps(doc))

    cases = [
        (
            index_file,
            lambda d: d["adapters"]["a"].pop("status"),
            ("list", "show", "promote"),
            "entry 'a' is damaged: no 'status'",
        ),
        (
            index_file,
            lambda d: d["adapters"]["a"].update(eval={"pass_at_k": 0.9}),
            ("list", "promote"),
            "entry 'a' is damaged",
        ),
        (index_file, lambda d: d["adapters"]["a"].update(status="golden"), ("show",), "'golden' is not a valid Status"),
        (manifest_file, lambda d: d.pop("base_model"), ("show",), "the manifest of 'a' is damaged: no 'base_model'"),
        (manifest_file, lambda d: d.update(created_at=5), ("show",), "created_at is int, not a string"),
    ]
    for path, change, commands, message in cases:
        edit(path, change)
        for command in commands:
            code, _, err = _run(capsys, command, *([] if command == "list" else ["a"]))
            assert (code, err.count("\n")) == (1, 1) and message in err, (command, message, err)
        index_file.write_text(good_index)
        manifest_file.write_text(good_manifest)
    with manifest_file.open("a") as fh:  # a 17 MB manifest: refused by its size, not read into memory
        fh.truncate(17 << 20)
    code, _, err = _run(capsys, "show", "a")
    assert code == 1 and "is 17825792 bytes, more than a registry file may be" in err
    manifest_file.unlink()
    code, _, err = _run(capsys, "show", "a")
    assert code == 1 and "the manifest of 'a'" in err and "is missing" in err
    index_file.write_text("[1, 2]")
    assert _run(capsys, "list")[0] == 1

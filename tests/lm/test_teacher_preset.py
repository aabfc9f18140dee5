"""The teacher preset of the bootstrap builder: more blocks, more steps, the student's own tokenizer."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from services.cli import main
from services.lm import bootstrap as bootstrap_mod
from services.lm.bootstrap import (
    MARKER_FILE,
    PRESETS,
    BootstrapConfig,
    ensure_bootstrap_model,
    ensure_teacher_model,
)


@pytest.fixture(scope="module")
def student() -> Path:
    return ensure_bootstrap_model()


def test_the_teacher_is_bigger_and_trained_longer() -> None:
    teacher, pupil = PRESETS["teacher"], PRESETS["student"]
    assert teacher.config == BootstrapConfig.teacher() and teacher.student_tokenizer and not pupil.student_tokenizer
    assert teacher.config.num_layers > pupil.config.num_layers and teacher.steps > pupil.steps
    # the same hidden size: the cosine feature loss can match their blocks without a projection
    assert teacher.config.hidden_size == pupil.config.hidden_size
    assert (teacher.dir_name, pupil.dir_name) == ("teacher", "bootstrap")


def test_cli_builds_a_teacher_on_the_students_tokenizer(
    tmp_path: Path, student: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from transformers import AutoTokenizer

    from services.trainer.distill import load_teacher

    out = tmp_path / "teacher"
    assert main(["bootstrap-model", "--preset", "teacher", "--out", str(out), "--steps", "2", "--tasks", "300"]) == 0
    printed = capsys.readouterr().out
    assert f"teacher model saved to {out}\n" in printed and "training: 2 steps" in printed
    assert (out / "tokenizer.json").read_bytes() == (student / "tokenizer.json").read_bytes()  # not trained again
    config = json.loads((out / "config.json").read_text())
    assert config["num_hidden_layers"] == 6 and config["hidden_size"] == 128
    marker = json.loads((out / MARKER_FILE).read_text())
    assert marker["tokenizer_dir"] == str(student) and marker["config"]["num_layers"] == 6
    tokenizer = AutoTokenizer.from_pretrained(str(student), local_files_only=True)
    teacher = load_teacher(out, student_tokenizer=tokenizer, device="cpu", student_vocab_size=len(tokenizer))
    assert sum(p.numel() for p in teacher.model.parameters()) > 1_200_000  # the student has ~857k
    assert main(["bootstrap-model", "--preset", "teacher", "--out", str(out), "--if-missing"]) == 0
    assert "teacher model already built" in capsys.readouterr().out


def test_ensure_teacher_model_builds_from_the_students_tokenizer(
    tmp_path: Path, student: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    calls: list[dict[str, Any]] = []

    def fake_build(out_dir: Path, **kwargs: Any) -> None:
        calls.append(kwargs)
        (out_dir / MARKER_FILE).write_text(json.dumps({"version": bootstrap_mod.BOOTSTRAP_VERSION}))

    monkeypatch.setattr(bootstrap_mod, "bootstrap_model", fake_build)
    target = tmp_path / "teacher"
    assert ensure_teacher_model(target, log=lambda _: None) == target
    (call,) = calls
    assert call["config"] == BootstrapConfig.teacher() and call["tokenizer_dir"] == student
    assert call["max_steps"] == PRESETS["teacher"].steps
    assert ensure_teacher_model(target, log=lambda _: None) == target and len(calls) == 1  # built once

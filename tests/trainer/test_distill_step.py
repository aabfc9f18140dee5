"""The distillation step: DCD's alignment of student and teacher positions, and `cppforge train --recipe distill`
end to end (a tiny random teacher; DCD on the bootstrap model itself)."""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any

import pytest
import torch

from services.cli import main
from services.tasks import generate_tasks
from services.trainer.batch import collate
from services.trainer.distill import DistillationLoss
from services.trainer.distill_step import DistillText, forward_at_completion, labels_of, make_pair, short_context

from .distill_models import save_tiny_model, tiny_llama
from .runs import error_lines, metrics_rows, set_args

# One prompt per step row, short completions: a step takes well under a second on the bootstrap model.
SMALL = {"heldout_tasks": 0, "sft_batch_size": 4, "num_tasks": 50, "max_gen_len": 48}


@pytest.fixture(scope="module")
def tokenizer(base_model: Path) -> Any:
    from transformers import AutoTokenizer

    return AutoTokenizer.from_pretrained(str(base_model), local_files_only=True)


@pytest.fixture(scope="module")
def tiny_teacher(base_model: Path, tokenizer: Any, tmp_path_factory: pytest.TempPathFactory) -> Path:
    return save_tiny_model(tmp_path_factory.mktemp("teacher") / "model", tokenizer)


def test_short_context_keeps_bos_and_the_last_tokens() -> None:
    assert short_context([1, 10, 11, 12, 13], 2, bos_id=1) == [1, 12, 13]
    assert short_context([1, 10, 11], 5, bos_id=1) == [1, 10, 11]  # shorter prompts stay whole
    assert short_context([10, 11, 12], 1, bos_id=None) == [12]


def test_dcd_student_and_teacher_logits_predict_the_same_completion_token(tokenizer: Any) -> None:
    tasks = generate_tasks(2, seed=3)
    texts = [DistillText(t.prompt, t.canonical_solution) for t in tasks]
    pairs = [make_pair(tokenizer, text, max_gen_len=40, student_context=6) for text in texts]
    for pair in pairs:
        assert pair.truncated and pair.student.prompt_ids == [tokenizer.bos_token_id, *pair.teacher.prompt_ids[-6:]]
        assert pair.student.completion_ids == pair.teacher.completion_ids
    pad = tokenizer.pad_token_id
    teacher_batch = collate([p.teacher for p in pairs], pad)
    student_batch = collate([p.student for p in pairs], pad)
    assert torch.equal(teacher_batch.completion_ids, student_batch.completion_ids)
    model = tiny_llama(vocab=len(tokenizer), hidden=32, layers=2)
    with torch.no_grad():
        teacher = forward_at_completion(model, teacher_batch, [1])
        student = forward_at_completion(model, student_batch, [1])
        for b, pair in enumerate(pairs):
            for row, got in ((pair.teacher, teacher), (pair.student, student)):
                ids = torch.tensor([row.prompt_ids + row.completion_ids])
                alone = model(input_ids=ids).logits[0]  # (L, V) of this row with no padding around it
                p = len(row.prompt_ids)
                for j in range(len(row.completion_ids)):
                    # the logit at index j comes from position p + j - 1 of the row's own sequence,
                    # the one that predicts completion token j
                    assert torch.allclose(got.logits[b, j], alone[p + j - 1], atol=1e-5), (b, j)
    assert teacher.hidden[0].shape == (2, teacher_batch.completion_ids.shape[1], 32)


def test_a_student_context_as_long_as_the_prompt_gives_zero_kl(tokenizer: Any) -> None:
    texts = [DistillText(t.prompt, t.canonical_solution) for t in generate_tasks(3, seed=4)]
    pairs = [make_pair(tokenizer, text, max_gen_len=40, student_context=10_000) for text in texts]
    assert not any(p.truncated for p in pairs)
    model = tiny_llama(vocab=len(tokenizer), hidden=32, layers=2)
    pad = tokenizer.pad_token_id
    with torch.no_grad():
        teacher = forward_at_completion(model, collate([p.teacher for p in pairs], pad), [])
        batch = collate([p.student for p in pairs], pad)
        student = forward_at_completion(model, batch, [])
    out = DistillationLoss()(student.logits, teacher.logits, labels_of(batch), batch.mask)
    assert out.kl.item() == pytest.approx(0.0, abs=1e-6)
    assert out.tokens == sum(len(p.student.completion_ids) for p in pairs)  # padding excluded


def test_train_distill_from_a_teacher_end_to_end(
    tmp_path: Path, base_model: Path, tiny_teacher: Path, capsys: pytest.CaptureFixture[str], keep_signal_handlers: None
) -> None:
    # In this process (`cppforge train` as its console script runs it): a subprocess would spend most of
    # the test importing torch again.
    out = tmp_path / "out"
    argv = ["train", "--recipe", "distill", "--model", str(base_model), "--teacher", str(tiny_teacher), "--steps", "3",
            "--out", str(out), "--no-progress", *set_args(SMALL)]  # fmt: skip
    code = main(argv)
    done = capsys.readouterr()
    assert code == 0, done.err[-3000:]
    assert "trained 3 steps (distill, recipe distill)" in done.out
    rows = metrics_rows(out)
    assert [r["step"] for r in rows] == [1, 2, 3]
    for row in rows:
        assert row["samples"] == 4 and row["tokens"] > 0 and "feature" not in row
        assert all(math.isfinite(row[k]) for k in ("loss", "kl", "ce", "grad_norm"))
        assert row["kl"] > 0.1  # a random teacher is far from the trained student
        assert row["loss"] == pytest.approx(0.5 * 4 * row["kl"] + 0.5 * row["ce"], rel=1e-5)  # defaults
    assert "step 3: loss" in done.err and " kl " in done.err  # the --no-progress log lines
    summary = json.loads((out / "summary.json").read_text())
    assert summary["method"] == "distill" and summary["distill_mode"] == "teacher"
    assert summary["teacher"] == str(tiny_teacher) and summary["steps"] == 3
    assert (out / "adapter" / "adapter_config.json").is_file() and (out / "reward_curve.png").is_file()


def test_train_distill_dcd_with_the_feature_loss(
    tmp_path: Path, base_model: Path, capsys: pytest.CaptureFixture[str], keep_signal_handlers: None
) -> None:
    out = tmp_path / "out"
    extra = {"dcd": True, "dcd_student_context": 8, "distill_feature_weight": 0.5, "distill_feature_layers": "1,3"}
    argv = ["train", "--recipe", "distill", "--model", str(base_model), "--steps", "3", "--out", str(out),
            "--no-progress", *set_args({**SMALL, **extra})]  # fmt: skip
    assert main(argv) == 0, capsys.readouterr().err[-3000:]
    rows = metrics_rows(out)
    assert [r["step"] for r in rows] == [1, 2, 3]
    first = rows[0]
    # The LoRA update starts at zero, so student and teacher differ only by the context the student lost.
    assert first["truncated"] == 4 and first["kl"] > 1e-3 and 0 < first["feature"] < 2
    assert first["loss"] == pytest.approx(2 * first["kl"] + 0.5 * first["ce"] + 0.5 * first["feature"], rel=1e-5)
    summary = json.loads((out / "summary.json").read_text())
    assert summary["method"] == "distill" and summary["distill_mode"] == "dcd" and summary["teacher"] is None


def test_a_teacher_of_another_vocabulary_is_exit_2_before_the_heldout_scoring(
    tmp_path: Path, base_model: Path, capsys: pytest.CaptureFixture[str], keep_signal_handlers: None
) -> None:
    from services.lm.tokenizer import train_tokenizer
    from services.tasks import training_text

    other = train_tokenizer([training_text(t) for t in generate_tasks(400, seed=9)], 300)
    teacher = save_tiny_model(tmp_path / "teacher", other, hidden=16)
    argv = ["train", "--recipe", "distill", "--model", str(base_model), "--teacher", str(teacher), "--steps", "1",
            "--out", str(tmp_path / "out"), *set_args({**SMALL, "heldout_tasks": 2, "heldout_samples": 1})]  # fmt: skip
    assert main(argv) == 2
    err = capsys.readouterr().err
    assert "held-out" not in err, err
    (line,) = error_lines(err)
    assert f"the teacher {teacher} has a different vocabulary from the student's: {len(other)} tokens vs 512" in line


@pytest.mark.parametrize(
    ("extra", "message"),
    [
        ([], "method distill needs a teacher"),
        (["--set", "dcd=true", "--set", "distill_feature_weight=0.5"], "needs distill_feature_layers"),
        (["--set", "dcd=true", "--set", "distill_feature_layers=1,x"], "distill_feature_layers: feature layers are"),
        (["--set", "dcd=true", "--set", "distill_alpha=2"], "distill_alpha must be in [0, 1]"),
    ],
)
def test_bad_distill_config_is_exit_2(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], extra: list[str], message: str
) -> None:
    assert main(["train", "--recipe", "distill", "--steps", "1", "--out", str(tmp_path / "out"), *extra]) == 2
    (line,) = error_lines(capsys.readouterr().err)
    assert message in line and not (tmp_path / "out").exists()


def test_feature_blocks_out_of_range_are_exit_2_before_any_step(
    tmp_path: Path, base_model: Path, tiny_teacher: Path, capsys: pytest.CaptureFixture[str], keep_signal_handlers: None
) -> None:
    argv = ["train", "--recipe", "distill", "--model", str(base_model), "--teacher", str(tiny_teacher), "--steps", "1",
            "--out", str(tmp_path / "out"), "--no-progress",
            *set_args({**SMALL, "distill_feature_weight": 1.0, "distill_feature_layers": "3:3"})]  # fmt: skip
    assert main(argv) == 2
    (line,) = error_lines(capsys.readouterr().err)
    assert "teacher block 3 out of range: the teacher has 2 decoder blocks" in line
    assert not (tmp_path / "out" / "metrics.jsonl").read_text()


def test_the_bar_and_the_curve_take_rows_without_rewards(tmp_path: Path) -> None:
    import io

    from services.trainer.config import recipe_config
    from services.trainer.outputs import plot_reward_curve
    from services.trainer.progressbar import TrainProgress

    rows = [{"step": s, "loss": 2.0 / s, "kl": 0.5 / s, "ce": 1.0, "feature": 0.1, "tokens": 9, "step_s": 0.1,
             "elapsed_s": 0.1 * s, "samples": 4, "dropped": 0, "discarded": 0} for s in (1, 2, 3)]  # fmt: skip
    stream = io.StringIO()
    bar = TrainProgress(recipe_config("distill", dcd=True, steps=3), 0, 0.0, stream)
    for row in rows:
        bar.update(row)
    bar.close()
    assert "kl=0.167" in stream.getvalue() and "loss=0.667" in stream.getvalue()
    png = plot_reward_curve(rows, tmp_path / "curve.png", title="distill")
    assert png is not None and png.stat().st_size > 1000


@pytest.mark.slow
def test_distilling_from_the_teacher_preset_brings_the_student_closer(base_model: Path, tmp_path: Path) -> None:
    """The real teacher (built here when missing: minutes of one core, `make teacher`): the KL falls."""
    from services.lm.bootstrap import ensure_teacher_model
    from services.trainer.run import RunHooks, run_training

    from .runs import tiny_config

    teacher = ensure_teacher_model()
    settings = {**SMALL, "sft_batch_size": 8}
    cfg = tiny_config(base_model, recipe="distill", teacher=str(teacher), steps=30, lr=2e-3, **settings)
    summary = run_training(cfg, tmp_path / "out", recipe="distill", hooks=RunHooks(progress=None))
    kls = [r["kl"] for r in metrics_rows(tmp_path / "out")]
    assert summary["distill_mode"] == "teacher" and len(kls) == 30
    assert sum(kls[-10:]) / 10 < 0.9 * sum(kls[:10]) / 10, kls

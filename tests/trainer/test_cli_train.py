"""`cppforge train` as a command: bad input is exit 2 with one line on stderr, a verifier that is down is
exit 1, and an SFT run from a JSONL trains."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from services.cli import main
from services.tasks import generate_tasks
from services.trainer.config import TrainConfig

from .runs import TINY, error_lines, metrics_rows, run_cli, set_args, train_argv


def _one_error_line(capsys: pytest.CaptureFixture[str], argv: list[str], code: int = 2) -> str:
    assert main(argv) == code
    captured = capsys.readouterr()
    lines = captured.err.splitlines()
    assert len(lines) == 1 and lines[0].startswith("cppforge: error: "), captured.err
    assert "Traceback" not in captured.err and captured.out == ""
    return lines[0]


@pytest.mark.parametrize(
    ("extra", "message"),
    [
        (["--recipe", "nope", "--steps", "1"], "nope"),
        (["--steps", "1", "--set", "no_such_field=1"], "unknown TrainConfig field(s): no_such_field"),
        (["--steps", "1", "--set", "group_size=many"], "group_size must be an integer, not 'many'"),
        (["--steps", "1", "--set", "cccs=perhaps"], "cccs must be true or false"),
        (["--steps", "1", "--set", "group_size=1"], "group_size must be at least 2"),
        (["--steps", "1", "--set", "group_size"], "--set takes FIELD=VALUE"),
        (["--steps", "1", "--overrides-json", "{not json"], "--overrides-json is not JSON"),
        ([], "give a budget: --minutes M or --steps N"),
        (["--steps", "1", "--set", "lr=inf"], "lr must be a finite number, not inf"),
        (["--steps", "1", "--set", "kl_coeff=nan"], "kl_coeff must be a finite number, not nan"),
        (["--minutes", "inf"], "minutes must be a finite number, not inf"),
        (["--recipe", "sft", "--steps", "1"], "method sft needs sft_data: --set sft_data=FILE"),
    ],
)
def test_bad_config_is_exit_2(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], extra: list[str], message: str
) -> None:
    out = tmp_path / "out"
    line = _one_error_line(capsys, ["train", "--out", str(out), "--no-progress", *extra])
    assert message in line
    assert not out.exists()  # refused before anything was written


def test_no_out_dir_is_exit_2(capsys: pytest.CaptureFixture[str]) -> None:
    assert "--out DIR is required" in _one_error_line(capsys, ["train", "--steps", "1"])


def test_out_holding_a_run_needs_resume(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    complete = tmp_path / "checkpoints" / "step-000001"
    (complete / "adapter").mkdir(parents=True)
    for name in ("trainer_state.json", "optimizer.pt", "rng.pt", "adapter/adapter_model.safetensors"):
        (complete / name).write_text("{}")  # what a complete checkpoint holds (the refusal reads no content)
    (tmp_path / "checkpoints" / "latest").write_text("step-000001")
    line = _one_error_line(capsys, ["train", "--steps", "1", "--out", str(tmp_path)])
    assert f"{tmp_path} already holds a run: resume it with --resume {tmp_path}" in line


def test_a_fresh_run_over_a_killed_one_without_checkpoint_starts_metrics_over(
    tmp_path: Path, base_model: Path, capsys: pytest.CaptureFixture[str], keep_signal_handlers: None
) -> None:
    # What a run killed before its first complete checkpoint leaves: rows, and a half-written checkpoint.
    out = tmp_path / "out"
    (out / "checkpoints" / "step-000025.tmp").mkdir(parents=True)
    (out / "metrics.jsonl").write_text("".join(json.dumps({"step": s, "reward_mean": 0.5}) + "\n" for s in (1, 2, 3)))
    assert main(train_argv(out, base_model, 1, heldout_tasks=0)) == 0, capsys.readouterr().err
    rows = metrics_rows(out)
    assert [r["step"] for r in rows] == [1] and "samples" in rows[0]  # this run's row only


def test_missing_sft_data_fails_before_the_heldout_scoring(
    tmp_path: Path, base_model: Path, capsys: pytest.CaptureFixture[str], keep_signal_handlers: None
) -> None:
    argv = ["train", "--recipe", "sft", "--model", str(base_model), "--steps", "1", "--out", str(tmp_path / "out"),
            *set_args({"sft_data": tmp_path / "nope.jsonl", "heldout_tasks": 2, "heldout_samples": 1})]  # fmt: skip
    assert main(argv) == 2
    err = capsys.readouterr().err
    assert "held-out" not in err, err  # not minutes of scoring first (100 tasks by default)
    assert error_lines(err) == [f"cppforge: error: sft data not found: {tmp_path / 'nope.jsonl'}"]


def test_resume_without_a_run_is_exit_2(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    line = _one_error_line(capsys, ["train", "--resume", str(tmp_path)])
    assert "nothing to resume" in line and "config.json" in line


def test_resume_of_a_run_without_a_checkpoint_is_exit_2(
    tmp_path: Path, base_model: Path, capsys: pytest.CaptureFixture[str], keep_signal_handlers: None
) -> None:
    # A run killed before its first checkpoint leaves config.json and nothing to resume from.
    cfg = TrainConfig(**{**TINY, "model": str(base_model), "steps": 2})
    (tmp_path / "config.json").write_text(json.dumps({"recipe": "production", **cfg.to_dict()}))
    line = _one_error_line(capsys, ["train", "--resume", str(tmp_path), "--no-progress"])
    assert "nothing to resume" in line and "no complete checkpoint" in line


def test_resume_keeps_what_it_trains(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    cfg = TrainConfig(steps=2)
    (tmp_path / "config.json").write_text(json.dumps({"recipe": "production", **cfg.to_dict()}))
    line = _one_error_line(capsys, ["train", "--resume", str(tmp_path), "--set", "lr=1", "--set", "steps=4"])
    assert "cannot change: lr" in line


def test_a_real_process_fails_with_one_line(tmp_path: Path) -> None:
    done = run_cli(["train", "--steps", "1", "--out", str(tmp_path / "out"), "--set", "group_size=many"], timeout=120)
    assert done.returncode == 2
    assert done.stderr.splitlines() == ["cppforge: error: group_size must be an integer, not 'many'"]


def test_a_verifier_that_is_down_is_exit_1(tmp_path: Path, base_model: Path) -> None:
    """Every sample dropped for 3 steps: exit 1 with one error line; the dropped samples are counted."""
    out = tmp_path / "out"
    argv = train_argv(out, base_model, 5, heldout_tasks=0, dapo_max_refills=0)
    done = run_cli([*argv, "--verifier-url", "http://127.0.0.1:9"])
    assert done.returncode == 1, done.stderr[-3000:]
    errors = error_lines(done.stderr)
    assert len(errors) == 1 and "every sample of 3 steps in a row was dropped" in errors[0], done.stderr[-3000:]
    assert "Traceback" not in done.stderr
    rows = metrics_rows(out)
    assert [r["step"] for r in rows] == [1, 2, 3]
    assert all(r["samples"] == 4 and r["dropped"] == 4 and not r["updated"] for r in rows)
    assert not (out / "summary.json").exists()


def test_sft_from_a_jsonl(tmp_path: Path, base_model: Path) -> None:
    data = tmp_path / "rows.jsonl"
    rows = [{"prompt": t.prompt, "completion": t.canonical_solution} for t in generate_tasks(8, 5)]
    data.write_text("".join(json.dumps(r) + "\n" for r in rows))
    out = tmp_path / "out"
    argv = ["train", "--recipe", "sft", "--model", str(base_model), "--steps", "2", "--out", str(out), "--no-progress",
            *set_args({"sft_data": data, "sft_batch_size": 4, "heldout_tasks": 0})]  # fmt: skip
    done = run_cli(argv)
    assert done.returncode == 0, done.stderr[-3000:]
    assert "trained 2 steps (sft, recipe sft)" in done.stdout
    metrics = metrics_rows(out)
    assert [r["step"] for r in metrics] == [1, 2] and all(r["loss"] > 0 and r["tokens"] > 0 for r in metrics)
    summary = json.loads((out / "summary.json").read_text())
    assert summary["method"] == "sft" and summary["recipe"] == "sft" and summary["steps"] == 2
    assert (out / "adapter" / "adapter_config.json").is_file()

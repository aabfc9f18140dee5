"""`cppforge bon-data` as a command: bad input is exit 2 with one line; on the bootstrap model it writes
rows that `cppforge train --recipe sft` trains on (its loss on them goes down); through the inference
and verifier services it writes the same rows as in-process."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from services.cli import main
from services.trainer.sft import load_sft_rows

from .runs import metrics_rows, set_args


def _one_error_line(capsys: pytest.CaptureFixture[str], argv: list[str], code: int = 2) -> str:
    assert main(argv) == code
    captured = capsys.readouterr()
    lines = captured.err.splitlines()
    assert len(lines) == 1 and lines[0].startswith("cppforge: error: "), captured.err
    return lines[0]


@pytest.mark.parametrize(
    ("extra", "message"),
    [
        (["--n", "0"], "--n must be at least 1"),
        (["--top-p", "0"], "--top-p must be in (0, 1]"),
        (["--temperature", "-1"], "--temperature must be a finite number >= 0"),
        (["--temperature", "nan"], "--temperature must be a finite number >= 0"),
        (["--min-reward", "nan"], "--min-reward must be a finite number, not nan"),
        (["--tasks", "/nonexistent/tasks.jsonl"], "--tasks file not found"),
        (["--model-name", "m"], "--model-name and --api-key go with --inference-url"),
        (["--inference-url", "http://127.0.0.1:9", "--adapter", "a"], "name it with --model-name"),
        (["--reward", "fancy"], "invalid choice: 'fancy'"),
        (["--tasks", "t.jsonl", "--num-tasks", "3"], "--tasks reads them from a file"),
        (["--num-tasks", "1", "--device", "tpu:7"], "--device: unsupported device 'tpu:7'"),
    ],
)
def test_bad_input_is_exit_2(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], extra: list[str], message: str
) -> None:
    out = tmp_path / "bon.jsonl"
    assert message in _one_error_line(capsys, ["bon-data", "--out", str(out), "--no-progress", *extra])
    assert not out.exists()


def test_out_is_not_overwritten_without_force(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "bon.jsonl"
    out.write_text('{"prompt": "p", "completion": "c"}\n')
    assert "pass --force" in _one_error_line(capsys, ["bon-data", "--out", str(out)])
    assert out.read_text() == '{"prompt": "p", "completion": "c"}\n'
    assert "no such directory" in _one_error_line(capsys, ["bon-data", "--out", str(tmp_path / "no" / "x.jsonl")])


def test_a_bad_tasks_file_names_its_line(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    tasks = tmp_path / "tasks.jsonl"
    tasks.write_text('{"task_id": "a", "prompt": "int f() {", "canonical_solution": "}", "test": ""}\n{oops\n')
    line = _one_error_line(capsys, ["bon-data", "--tasks", str(tasks), "--out", str(tmp_path / "bon.jsonl")])
    assert f"{tasks}:2: not JSON" in line


def _bon(out: Path, model: Path | None, *extra: str) -> list[str]:
    return ["bon-data", "--n", "4", "--num-tasks", "4", "--max-tokens", "96", "--min-reward", "0", "--json",
            "--no-progress", "--out", str(out), *(["--model", str(model)] if model else []), *extra]  # fmt: skip


def test_bon_data_then_sft_on_it(
    tmp_path: Path, base_model: Path, capsys: pytest.CaptureFixture[str], keep_signal_handlers: None
) -> None:
    data = tmp_path / "bon.jsonl"
    assert main(_bon(data, base_model)) == 0
    summary = json.loads(capsys.readouterr().out)
    rows = [json.loads(line) for line in data.read_text().splitlines()]
    assert summary["prompts"] == 4 and summary["candidates"] == 16 and summary["dropped"] == 0
    assert summary["rows"] == len(rows) == 4  # --min-reward 0: every judged prompt is kept
    assert summary["mean_best_reward"] >= summary["mean_reward"]
    assert summary["mean_best_reward"] == pytest.approx(sum(r["reward"] for r in rows) / 4)
    for row in rows:
        assert row["n"] == 4 and row["judged"] == 4 and 0 <= row["passed"] <= row["compiled"] <= 4
        assert set(row) == {"task_id", "prompt", "completion", "reward", "n", "compiled", "passed", "judged"}
    assert sum(r["compiled"] for r in rows) == round(summary["compile_rate"] * 16)
    assert len(load_sft_rows(data)) == 4

    out = tmp_path / "sft"
    argv = ["train", "--recipe", "sft", "--model", str(base_model), "--steps", "3", "--out", str(out), "--no-progress",
            *set_args({"sft_data": data, "heldout_tasks": 0, "sft_batch_size": 4, "lr": 3e-3})]  # fmt: skip
    assert main(argv) == 0, capsys.readouterr().err[-3000:]
    losses = [r["loss"] for r in metrics_rows(out)]
    # Every step's batch is the same 4 rows (in another order), so the losses compare: the first is
    # before any update, the last after two.
    assert len(losses) == 3 and losses[2] < losses[0], losses


@pytest.mark.slow
def test_over_http_the_rows_equal_in_process(
    tmp_path: Path, base_model: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from services.common.settings import InferenceSettings, VerifierServiceSettings
    from services.inference.app import create_app as create_inference_app
    from services.verifier.app import create_app as create_verifier_app
    from tests.helpers.servers import serve

    local = tmp_path / "local.jsonl"
    # One prompt per decode on both sides: a request alone decodes exactly as in-process sampling.
    assert main(_bon(local, base_model, "--batch-prompts", "1")) == 0
    capsys.readouterr()
    verifier = create_verifier_app(VerifierServiceSettings(home=tmp_path / "v", prebuild_pch=False))
    inference = create_inference_app(InferenceSettings(home=tmp_path / "i", model=str(base_model), open_tier="train"))
    remote = tmp_path / "remote.jsonl"
    with serve(verifier) as v_url, serve(inference) as i_url:
        code = main(_bon(remote, None, "--batch-prompts", "1", "--inference-url", i_url, "--verifier-url", v_url))
    assert code == 0
    summary = json.loads(capsys.readouterr().out)
    assert summary["source"] == "http" and summary["rewards"] == "http" and summary["dropped"] == 0
    assert remote.read_text() == local.read_text()


def test_tasks_from_a_file_get_the_humaneval_x_helper_headers(tmp_path: Path) -> None:
    """HumanEval-X prompts rely on the helper #includes its harness prepends (`strlen` needs <cstring>):
    bon-data puts them in the row's prompt, as `cppforge eval` does, so prompt + a correct completion
    compiles and passes, and stays the verified program."""
    import argparse

    from services.trainer.bondata_command import _load_tasks
    from services.trainer.rewards import LocalRewards, VerifyOptions

    row = {"task_id": "T/0", "prompt": "int three(){\n", "canonical_solution": '    return (int)strlen("abc");\n}\n',
           "test": "#include<assert.h>\nint main(){\n    assert(three() == 3);\n}\n"}  # fmt: skip
    path = tmp_path / "tasks.jsonl"
    path.write_text(json.dumps(row) + "\n")
    (task,) = _load_tasks(argparse.Namespace(tasks=str(path), num_tasks=None, task_seed=None))
    assert task.prompt.startswith("#include<stdlib.h>\n") and task.prompt.endswith("\n\nint three(){\n")
    rewards = LocalRewards(VerifyOptions(), workers=1)
    try:
        with_headers, bare = rewards.score(
            [task.prompt + row["canonical_solution"], row["prompt"] + row["canonical_solution"]], row["test"]
        )
    finally:
        rewards.close()
    assert with_headers.passed and not bare.compiled

"""The runner's bookkeeping with a scripted sampler and judge (no model, no g++): rows flushed per task,
pass@k from the judged samples only, infrastructure failures reported, warned about and left out of n and c,
summary.json and the PNG, and what an interrupted or judge-less run leaves behind."""

from __future__ import annotations

import io
import json
from collections.abc import Sequence
from pathlib import Path

import pytest

from services.tasks import write_jsonl
from services.tasks.problems import Problem
from services.trainer.evalharness import EvalConfig, EvalInfraError, pass_at_k, run_eval
from services.trainer.evalharness.command import pass_line
from services.trainer.evalharness.judges import INFRA, Judgement
from services.trainer.evalharness.samplers import Completion, rebase, sampling_prompt, stop_of

# Per task, the n=4 sample texts the scripted model writes; the judge reads the marker in each program.
SCRIPT = {
    "T/0": ["PASS", "PASS", "BAD", "WRONG"],
    "T/1": ["WRONG", "INFRA", "PASS", "INFRA"],
    "T/2": ["BAD", "BAD", "BAD", "BAD"],
    "T/3": ["INFRA", "INFRA", "INFRA", "PASS"],  # one judged sample: too few for pass@2
    "T/4": ["PASS", "WRONG", "WRONG", "WRONG"],
}


class ScriptedSampler:
    tasks_per_call = 2

    def __init__(self, interrupt_on_call: int | None = None) -> None:
        self.calls = 0
        self.interrupt_on_call = interrupt_on_call

    def sample(self, problems: Sequence[tuple[int, Problem]]) -> list[list[Completion]]:
        self.calls += 1
        if self.calls == self.interrupt_on_call:
            raise KeyboardInterrupt
        return [
            [Completion(f"    return 0; // {text}", "\n}", 100 * pos + j) for j, text in enumerate(SCRIPT[p.task_id])]
            for pos, p in problems
        ]

    def close(self) -> None:
        pass


class ScriptedJudge:
    def __init__(self) -> None:
        self.programs: list[tuple[str, str]] = []

    def judge(self, codes: Sequence[str], test: str, libraries: Sequence[str] = ()) -> list[Judgement]:
        self.programs += [(c, test) for c in codes]
        out = []
        for code in codes:
            if "INFRA" in code:
                out.append(Judgement(INFRA, False, False, "SandboxUnavailableError: no bwrap"))
            elif "BAD" in code:
                out.append(Judgement("syntax", False, False, "compile: solution.cpp:3: expected ';'"))
            else:
                passed = "PASS" in code
                out.append(Judgement("none" if passed else "runtime_crash", True, passed))
        return out

    def close(self) -> None:
        pass


@pytest.fixture
def tasks_file(tmp_path: Path) -> Path:
    rows = [{"task_id": tid, "prompt": f"int f{i}(){{\n", "canonical_solution": "    return 0;\n}\n",
             "test": f"int main(){{ return f{i}(); }}\n"} for i, tid in enumerate(SCRIPT)]  # fmt: skip
    path = tmp_path / "tasks.jsonl"
    write_jsonl(path, rows)
    return path


def config(tasks_file: Path, out: Path, **kw: object) -> EvalConfig:
    return EvalConfig(tasks_path=tasks_file, n=4, ks=(1, 2), out_dir=out, **kw)  # type: ignore[arg-type]


def test_rows_counts_pass_at_k_and_infra_accounting(tasks_file: Path, tmp_path: Path) -> None:
    out, stream, judge = tmp_path / "out", io.StringIO(), ScriptedJudge()
    report = run_eval(config(tasks_file, out), progress=stream, judge=judge, sampler=ScriptedSampler())
    rows = [json.loads(line) for line in (out / "results.jsonl").read_text().splitlines()]
    assert [(r["task_id"], r["sample"]) for r in rows] == [(t, j) for t in SCRIPT for j in range(4)]
    assert rows[0]["completion"] == "    return 0; // PASS\n}"  # HumanEval-X keeps the closing stop
    assert rows[5]["error_class"] == INFRA and rows[2]["detail"] == "compile: solution.cpp:3: expected ';'"
    # Each judged program is helpers + "\n" + prompt + completion; the test is the task's own.
    code, test = judge.programs[0]
    assert code.endswith("\nint f0(){\n    return 0; // PASS\n}") and "#include<algorithm>\n" in code
    assert test == "int main(){ return f0(); }\n"
    # (n, c) per task with infra samples left out: (4,2) (2,1) (4,0) (1,1) (4,1).
    counts = [(4, 2), (2, 1), (4, 0), (1, 1), (4, 1)]
    assert report.pass_at_k["pass@1"] == pytest.approx(sum(pass_at_k(n, c, 1) for n, c in counts) / 5)
    assert report.pass_at_k["pass@2"] == pytest.approx(sum(pass_at_k(n, c, 2) for n, c in counts if n >= 2) / 4)
    assert report.tasks_short == {"pass@1": 0, "pass@2": 1}
    assert (report.samples, report.judged, report.infra_failures) == (20, 15, 5)
    assert report.compile_rate == pytest.approx(10 / 15) and report.pass_rate == pytest.approx(5 / 15)
    assert report.error_classes == {"infra": 5, "none": 5, "runtime_crash": 5, "syntax": 5}
    warnings = [line for line in stream.getvalue().splitlines() if "warning" in line]
    assert len(warnings) == 2 and "T/1: 2 sample(s) not judged" in warnings[0] and "no bwrap" in warnings[0]
    summary = json.loads((out / "summary.json").read_text())
    assert summary == report.to_dict()
    assert list(summary)[:4] == ["pass@1", "pass@2", "n", "tasks"] and summary["n"] == 4 and summary["tasks"] == 5
    assert summary["infra_failures"] == 5 and summary["interrupted"] is False
    assert summary["dataset"] == str(tasks_file) and len(summary["dataset_sha256"]) == 64
    assert summary["sampling"]["temperature"] == 0.8 and summary["sampling"]["stop"] == ["\n}"]
    assert (out / "pass_at_k.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    # The CLI's lines say when a pass@k left tasks out.
    assert pass_line(report, 1) == f"pass@1: {report.pass_at_k['pass@1']:.4f}"
    assert pass_line(report, 2).endswith(" (over 4 of 5 tasks: 1 had fewer than 2 judged samples)")


def test_an_interrupted_run_keeps_the_finished_tasks(tasks_file: Path, tmp_path: Path) -> None:
    out = tmp_path / "out"
    with pytest.raises(KeyboardInterrupt):
        run_eval(config(tasks_file, out), progress=None, judge=ScriptedJudge(), sampler=ScriptedSampler(2))
    rows = [json.loads(line) for line in (out / "results.jsonl").read_text().splitlines()]
    assert {r["task_id"] for r in rows} == {"T/0", "T/1"} and len(rows) == 8
    summary = json.loads((out / "summary.json").read_text())
    assert summary["interrupted"] is True and summary["tasks"] == 2 and summary["samples"] == 8


def test_nothing_judged_is_an_infrastructure_failure(tasks_file: Path, tmp_path: Path) -> None:
    class DownJudge(ScriptedJudge):
        def judge(self, codes: Sequence[str], test: str, libraries: Sequence[str] = ()) -> list[Judgement]:
            return [Judgement(INFRA, False, False, "verifier down") for _ in codes]

    out = tmp_path / "out"
    with pytest.raises(EvalInfraError, match="judged none of the 20 samples"):
        run_eval(config(tasks_file, out), progress=None, judge=DownJudge(), sampler=ScriptedSampler())
    summary = json.loads((out / "summary.json").read_text())
    assert summary["pass@1"] is None and summary["infra_failures"] == 20  # never a 0.0 score


def test_limit_takes_the_first_tasks(tasks_file: Path, tmp_path: Path) -> None:
    report = run_eval(config(tasks_file, tmp_path / "o", limit=3), progress=None, judge=ScriptedJudge(),
                      sampler=ScriptedSampler())  # fmt: skip
    assert [t.task_id for t in report.per_task] == ["T/0", "T/1", "T/2"] and report.tasks == 3


@pytest.mark.parametrize(
    ("kw", "match"),
    [
        ({"ks": (1, 5)}, "k=5 is more than n=4"),
        ({"temperature": -1.0}, "temperature"),
        ({"top_p": 0.0}, "top_p"),
        ({"max_tokens": 0}, "max_tokens"),
        ({"limit": 0}, "limit"),
        ({"std": "c++99"}, "std 'c\\+\\+99' is not allowed"),
        ({"inference_url": "http://x", "model_path": "/tmp"}, "not both"),
        ({"model_name": "m"}, "needs --inference-url"),
        ({"adapter_dir": "/nonexistent"}, "not a saved PEFT adapter"),
        ({"tasks_path": Path("/nonexistent.jsonl")}, "no such problem file"),
    ],
)
def test_bad_settings_are_refused_by_name(tasks_file: Path, kw: dict[str, object], match: str) -> None:
    base: dict[str, object] = {"tasks_path": tasks_file, "n": 4, "ks": (1, 2)}
    with pytest.raises(ValueError, match=match):
        EvalConfig(**{**base, **kw})  # type: ignore[arg-type]


def test_an_out_dir_in_the_way_of_a_file_is_refused_before_the_model_loads(tasks_file: Path, tmp_path: Path) -> None:
    a_file = tmp_path / "results"
    a_file.write_text("")
    for out in (a_file, a_file / "below"):
        with pytest.raises(ValueError, match=f"--out {out}: {a_file} is a file, not a directory"):
            EvalConfig(tasks_path=tasks_file, n=4, ks=(1, 2), out_dir=out)
    assert EvalConfig(tasks_path=tasks_file, n=4, ks=(1, 2), out_dir=tmp_path / "new" / "dir").out_dir is not None


def test_prompt_newline_is_left_to_the_model() -> None:
    prompt = "int f(){\n"
    assert sampling_prompt(prompt, True) == "int f(){" and sampling_prompt(prompt, False) == prompt
    assert rebase("\n    return 1;", prompt, True) == "    return 1;"  # prompt + completion is the program
    assert rebase(" return 1;", prompt, True) == " return 1;"  # no newline written: one more is whitespace
    assert rebase("\n    return 1;", "int f(){", True) == "\n    return 1;"  # nothing was trimmed


def test_the_stop_that_ended_a_served_choice() -> None:
    from services.inference.protocol import CompletionChoice

    def choice(finish: str, reason: str | None) -> CompletionChoice:
        return CompletionChoice(index=0, text="x", finish_reason=finish, stop_reason=reason)

    assert stop_of(choice("stop", "\n}"), ["\n}", "\nint "]) == "\n}"  # vLLM's stop_reason, when reported
    assert stop_of(choice("stop", None), ["\n}"]) == "\n}"  # OpenAI's own: one stop sequence, a "stop" finish
    assert stop_of(choice("stop", None), ["\n}", "\nint "]) == ""  # which one is unknown: nothing appended
    assert stop_of(choice("length", None), ["\n}"]) == ""

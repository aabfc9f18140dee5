"""Best-of-N data (services/trainer/bondata.py): the ranking on hand-made candidates, dropped candidates,
the row filter and counts, and a run on hand-written completions judged by the real verifier whose rows
`load_sft_rows` reads and whose prompt + completion re-verifies to the recorded reward."""

from __future__ import annotations

import io
import json
from collections.abc import Sequence
from pathlib import Path

import pytest

from services.lm.prompts import encode_prompt, encode_texts
from services.lm.ranking import rank
from services.tasks import Task, generate_tasks, training_text
from services.trainer.bondata import (
    MAX_UNJUDGED_IN_A_ROW,
    BonStats,
    Candidate,
    Generated,
    VerifierDownError,
    keeps,
    pick_best,
    run_bon,
    sft_completion,
    sft_row,
)
from services.trainer.rewards import LocalRewards, Verdict, VerifyOptions, infra_verdict
from services.trainer.sft import load_sft_rows


def _v(reward: float, *, compiled: bool = True, passed: bool = False) -> Verdict:
    return Verdict(reward=reward, compiled=compiled, passed=passed, compile_output="")


def _c(completion: str, verdict: Verdict) -> Candidate:
    return Candidate(completion, verdict)


def test_rank_is_reward_desc_then_length_desc_then_first() -> None:
    assert rank([0.3, 1.0, 0.3, 0.0], ["a", "bb", "ccc", "dddd"]) == [1, 2, 0, 3]
    assert rank([0.5, 0.5], ["xx", "xx"]) == [0, 1]
    with pytest.raises(ValueError, match="2 rewards for 1 candidates"):
        rank([0.1, 0.2], ["x"])


def test_pick_best_takes_the_highest_reward_then_the_longest() -> None:
    cands = [_c("short\n}\n", _v(0.3)), _c("a longer body\n}\n", _v(0.3)), _c("x\n}\n", _v(1.0, passed=True)),
             _c("the longest body of them all\n}\n", _v(0.0, compiled=False))]  # fmt: skip
    assert pick_best(cands) == 2
    tied = cands[:2]
    assert pick_best(tied) == 1  # equal reward: the longer completion
    assert pick_best([_c("same\n}\n", _v(0.3)), _c("same\n}\n", _v(0.3))]) == 0  # full tie: drawn first


def test_a_dropped_candidate_never_wins() -> None:
    dropped = _c("a very long completion the verifier could not judge\n}\n", infra_verdict("sandbox error"))
    judged = _c("x\n}\n", _v(0.0, compiled=False))
    assert pick_best([dropped, judged]) == 1  # even a 0.0 that was judged beats an unjudged one
    assert pick_best([dropped, dropped]) is None


def test_keeps_passing_rows_by_default_or_by_min_reward() -> None:
    passing, failing = _v(1.0, passed=True), _v(0.65)
    assert keeps(passing, None) and not keeps(failing, None)
    assert keeps(failing, 0.6) and not keeps(failing, 0.7) and keeps(_v(0.0, compiled=False), 0.0)
    assert not keeps(infra_verdict("down"), 0.0)


def test_sft_completion_ends_with_the_closing_brace_and_newline() -> None:
    assert sft_completion("\n  return 1;", "\n}") == "\n  return 1;\n}\n"
    assert sft_completion("\n  return 1;", "") == "\n  return 1;"  # unclosed (length/EOS): as written


def test_sft_row_counts_every_candidate() -> None:
    task = Task(task_id="t/0", prompt="int f() {", canonical_solution="\n  return 1;\n}\n", test="")
    cands = [_c("\n  return 1;\n}\n", _v(1.0, passed=True)), _c("\n  return 2;\n}\n", _v(0.3)),
             _c("\n  oops\n}\n", _v(0.0, compiled=False)), _c("\n\n}\n", infra_verdict("timeout"))]  # fmt: skip
    row = sft_row(task, cands, 0)
    assert row == {"task_id": "t/0", "prompt": "int f() {", "completion": "\n  return 1;\n}\n", "reward": 1.0, "n": 4,
                   "compiled": 2, "passed": 1, "judged": 3}  # fmt: skip


def test_stats_summary_on_hand_counts() -> None:
    stats = BonStats()
    stats.add([_c("a", _v(1.0, passed=True)), _c("b", _v(0.3))], best=0, kept=True)
    stats.add([_c("c", _v(0.3)), _c("d", infra_verdict("x"))], best=0, kept=False)
    stats.add([_c("e", infra_verdict("x")), _c("f", infra_verdict("x"))], best=None, kept=False)
    s = stats.summary()
    assert (s["prompts"], s["rows"], s["below_filter"], s["unjudged_prompts"]) == (3, 1, 1, 1)
    assert (s["candidates"], s["judged"], s["dropped"]) == (6, 3, 3)
    assert s["compile_rate"] == pytest.approx(1.0) and s["pass_rate"] == pytest.approx(1 / 3)
    assert s["mean_reward"] == pytest.approx((1.0 + 0.3 + 0.3) / 3)
    assert s["mean_best_reward"] == pytest.approx((1.0 + 0.3) / 2) and s["mean_kept_reward"] == pytest.approx(1.0)
    assert BonStats().summary()["compile_rate"] is None  # nothing judged: no rate, not 0%


def test_completion_tokens_line_up_with_the_bootstrap_corpus(base_model: Path) -> None:
    """SFT encodes `[<s>] prompt` and `completion [</s>]` apart; for a sampled completion of the corpus's
    shape that must be exactly the tokens of the corpus sample (`training_text` + EOS), so SFT raises
    the probability of the very sequences the model was trained and sampled on."""
    from transformers import AutoTokenizer

    tok = AutoTokenizer.from_pretrained(str(base_model), local_files_only=True)
    for task in generate_tasks(20, 3):
        body = task.canonical_solution.removesuffix("\n}\n")  # what the sampler returns before the stop
        completion = sft_completion(body, "\n}")
        assert task.prompt + completion == training_text(task)
        ids = [*encode_prompt(tok, task.prompt), *tok(completion, add_special_tokens=False)["input_ids"],
               tok.eos_token_id]  # fmt: skip
        assert ids == encode_texts(tok, [training_text(task)], eos=True)[0], task.task_id


class _Fixed:
    """A candidate source that returns hand-written completions (a generated task's `body` variants)."""

    name = "fixed"

    def __init__(self, per_task: dict[str, list[Generated]]) -> None:
        self.per_task = per_task
        self.calls: list[tuple[list[str], int]] = []

    def generate(self, tasks: Sequence[Task], first_index: int) -> list[list[Generated]]:
        self.calls.append(([t.task_id for t in tasks], first_index))
        return [self.per_task[t.task_id] for t in tasks]

    def close(self) -> None:
        return None


def _variants(task: Task) -> list[Generated]:
    body = task.canonical_solution.removesuffix("\n}\n")
    return [
        Generated("\n  return undeclared_name;", "\n}"),  # does not compile
        Generated(body, "\n}"),  # the known solution: passes
        Generated(body + "\n  // the same, only longer", "\n}"),  # passes, longer: must win the tie
        Generated(body[: len(body) // 2], ""),  # cut by the token budget: no closing brace
    ]


def test_rows_are_sft_rows_that_reverify_to_their_reward(tmp_path: Path) -> None:
    tasks = generate_tasks(3, 11)
    source = _Fixed({t.task_id: _variants(t) for t in tasks})
    rewards = LocalRewards(VerifyOptions(), workers=2)
    out = tmp_path / "bon.jsonl"
    try:
        with out.open("w") as fh:
            stats = run_bon(tasks, source, rewards, fh, chunk=2, min_reward=None)
        rows = [json.loads(line) for line in out.read_text().splitlines()]
        assert source.calls == [([tasks[0].task_id, tasks[1].task_id], 0), ([tasks[2].task_id], 2)]
        assert [r["task_id"] for r in rows] == [t.task_id for t in tasks]
        for row, task in zip(rows, tasks, strict=True):
            assert row["completion"].endswith("// the same, only longer\n}\n")
            assert (row["n"], row["judged"], row["passed"]) == (4, 4, 2) and row["reward"] == pytest.approx(1.0)
            assert row["compiled"] == 2  # the undeclared name and the cut body do not compile
            again = rewards.score([row["prompt"] + row["completion"]], task.test)[0]
            assert again.reward == row["reward"] and again.passed
        assert [(e.prompt, e.completion) for e in load_sft_rows(out)] == [(r["prompt"], r["completion"]) for r in rows]
    finally:
        rewards.close()
    s = stats.summary()
    assert (s["prompts"], s["rows"], s["candidates"], s["dropped"]) == (3, 3, 12, 0)
    assert s["mean_best_reward"] == pytest.approx(1.0) and s["pass_rate"] == pytest.approx(0.5)


class _Scripted:
    """A reward backend answering from a table: completion text -> verdict (dropped where missing)."""

    def __init__(self, table: dict[str, Verdict]) -> None:
        self.table = table

    def score(self, programs: Sequence[str], test: str) -> list[Verdict]:
        return [next((v for k, v in self.table.items() if p.endswith(k)), infra_verdict("down")) for p in programs]

    def close(self) -> None:
        return None


def test_filter_and_dropped_candidates_in_a_run() -> None:
    tasks = generate_tasks(3, 12)
    gens = {
        tasks[0].task_id: [Generated("\n  A", "\n}"), Generated("\n  a long one nobody judged", "\n}")],
        tasks[1].task_id: [Generated("\n  B", "\n}")],  # compiles, fails the tests: not kept by default
        tasks[2].task_id: [Generated("\n  never judged", "\n}")],
    }
    table = {"\n  A\n}\n": _v(1.0, passed=True), "\n  B\n}\n": _v(0.3)}
    out = io.StringIO()
    stats = run_bon(tasks, _Fixed(gens), _Scripted(table), out, chunk=4, min_reward=None)
    rows = [json.loads(line) for line in out.getvalue().splitlines()]
    assert [(r["task_id"], r["completion"], r["judged"]) for r in rows] == [(tasks[0].task_id, "\n  A\n}\n", 1)]
    assert (stats.rows, stats.below_filter, stats.unjudged_prompts, stats.dropped) == (1, 1, 1, 2)
    out = io.StringIO()
    run_bon(tasks, _Fixed(gens), _Scripted(table), out, chunk=1, min_reward=0.3)
    assert [json.loads(line)["reward"] for line in out.getvalue().splitlines()] == [1.0, 0.3]


def test_a_verifier_that_judges_nothing_stops_the_run() -> None:
    tasks = generate_tasks(MAX_UNJUDGED_IN_A_ROW + 4, 13)
    gens = {t.task_id: [Generated("\n  x", "\n}")] for t in tasks}
    out = io.StringIO()
    stats = BonStats()
    with pytest.raises(VerifierDownError, match=f"no candidate of {MAX_UNJUDGED_IN_A_ROW} prompts in a row"):
        run_bon(tasks, _Fixed(gens), _Scripted({}), out, chunk=2, min_reward=0.0, stats=stats)
    assert stats.prompts == MAX_UNJUDGED_IN_A_ROW and out.getvalue() == ""


class _Interrupted(_Fixed):
    """Ctrl-C while the second chunk is being sampled (the first is being verified meanwhile)."""

    def generate(self, tasks: Sequence[Task], first_index: int) -> list[list[Generated]]:
        if first_index > 0:
            raise KeyboardInterrupt
        return super().generate(tasks, first_index)


def test_ctrl_c_keeps_the_rows_already_judged() -> None:
    tasks = generate_tasks(4, 14)
    gens = {t.task_id: [Generated(f"\n  {t.task_id}", "\n}")] for t in tasks}
    table = {f"\n  {t.task_id}\n}}\n": _v(1.0, passed=True) for t in tasks}
    out = io.StringIO()
    stats = BonStats()
    with pytest.raises(KeyboardInterrupt):
        run_bon(tasks, _Interrupted(gens), _Scripted(table), out, chunk=2, min_reward=None, stats=stats)
    rows = [json.loads(line) for line in out.getvalue().splitlines()]
    assert [r["task_id"] for r in rows] == [tasks[0].task_id, tasks[1].task_id]
    assert (stats.prompts, stats.rows) == (2, 2)


def test_http_source_reads_the_stop_without_vllms_stop_reason() -> None:
    """An OpenAI-style server reports finish_reason "stop" and no stop_reason: the one stop closed the
    function (else every candidate would lose its closing brace and fail to compile)."""
    from services.inference.protocol import CompletionChoice, CompletionResponse, Usage
    from services.trainer.bondata_sources import DrawOptions, HttpSource

    choices = [CompletionChoice(index=1, text="\n  b", finish_reason="length"),
               CompletionChoice(index=0, text="\n  a", finish_reason="stop")]  # fmt: skip
    usage = Usage(prompt_tokens=1, completion_tokens=2, total_tokens=3)
    answer = CompletionResponse(id="x", created=0, model="m", choices=choices, usage=usage)

    class _Client:
        def completions(self, *args: object, **kw: object) -> CompletionResponse:
            return answer

        def close(self) -> None:
            return None

    source = HttpSource("http://127.0.0.1:9", DrawOptions(n=2), workers=1)
    source.client.close()
    source.client = _Client()  # type: ignore[assignment]
    try:
        (got,) = source.generate(generate_tasks(1, 15), 0)
    finally:
        source.close()
    assert got == [Generated("\n  a", "\n}"), Generated("\n  b", "")]
    assert [sft_completion(g.text, g.stopped_by) for g in got] == ["\n  a\n}\n", "\n  b"]

"""bench/inference_fairness.py: its statistics on hand-computed numbers, and one tiny real run (a service
process on the tiny model, two short requests per scenario) that prints the ratio lines it promises."""

from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path

import pytest

from bench.inference_fairness import percentile, ratios, round_sizes, summarize

ROOT = Path(__file__).resolve().parents[2]


def test_percentile_interpolates_between_ranks() -> None:
    values = [4.0, 1.0, 3.0, 2.0]  # sorted 1 2 3 4: rank position (n-1)*q/100
    assert percentile(values, 50) == pytest.approx(2.5)
    assert percentile(values, 95) == pytest.approx(3.85)  # 3 + 0.85 * (4 - 3)
    assert percentile(values, 0) == 1.0 and percentile(values, 100) == 4.0
    assert percentile([7.0], 95) == 7.0
    with pytest.raises(ValueError):
        percentile([], 50)


def test_summary_in_ms_and_ratios_of_beside_over_alone() -> None:
    alone = summarize([0.1, 0.2, 0.3])
    assert alone["n"] == 3
    assert alone["mean_ms"] == pytest.approx(200.0) and alone["p50_ms"] == pytest.approx(200.0)
    assert alone["p95_ms"] == pytest.approx(290.0) and alone["max_ms"] == pytest.approx(300.0)
    beside = summarize([0.2, 0.4, 1.5])
    r = ratios(alone, beside)
    assert r["p50"] == pytest.approx(2.0) and r["mean"] == pytest.approx(700.0 / 200.0)
    assert r["p95"] == pytest.approx((400.0 + 0.9 * 1100.0) / 290.0)


def test_rounds_split_k_evenly_and_never_empty() -> None:
    assert round_sizes(60, 3) == [20, 20, 20]
    assert round_sizes(20, 3) == [7, 7, 6]
    assert round_sizes(2, 3) == [1, 1]  # more rounds than requests: one request a round
    assert round_sizes(5, 1) == [5]


@pytest.mark.slow
def test_a_tiny_run_prints_the_ratios_and_writes_them(tiny_model_dir: Path, tmp_path: Path) -> None:
    out = tmp_path / "fairness.json"
    run = subprocess.run(
        [sys.executable, "bench/inference_fairness.py", "--model", str(tiny_model_dir), "--k", "2", "--rounds", "1",
         "--warmup", "1", "--pause-max-s", "0.1", "--json", str(out)],
        cwd=ROOT, capture_output=True, text=True, timeout=280,
    )  # fmt: skip
    assert run.returncode == 0, run.stderr[-3000:]
    printed = {q: re.search(rf"^ratio B/A {q}: ([0-9.]+)x \(target <= 2\.0x: (met|MISSED)\)$", run.stdout, re.M)
               for q in ("p50", "p95")}  # fmt: skip
    assert all(printed.values()), run.stdout
    report = json.loads(out.read_text())
    assert report["alone"]["n"] == report["beside"]["n"] == 2 and report["rounds"] == 1
    assert report["alone_after"]["n"] == 2
    assert [len(v) for v in report["latencies_ms"].values()] == [2, 2, 2]
    assert re.search(r"^idle service after the load, A'/A: p50 [0-9.]+x  p95 [0-9.]+x$", run.stdout, re.M)
    for q, line in printed.items():
        assert line is not None
        expected = report["beside"][f"{q}_ms"] / report["alone"][f"{q}_ms"]
        assert float(line.group(1)) == pytest.approx(expected, abs=0.006)  # printed with 2 decimals
    long_prompt = report["long_prompt"]
    assert long_prompt["prompt_tokens"] + long_prompt["max_tokens"] == report["context"] == 512
    assert long_prompt["prompt_tokens"] >= 512 - 17  # the prompt really fills the context
    kinds = {b["kind"]: b for b in report["background"]}
    assert set(kinds) == {"long_prompt", "long_generation"}
    # (how many background requests land inside so short a window depends on the scheduler: not asserted)
    assert "background work during B" in run.stdout

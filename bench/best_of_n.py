"""Best-of-N on the bootstrap model, every side measured in one run.

Latency: n=1 vs best_of=4 in one batched decode (+ proxy ranking) vs 4 sequential n=1 calls.
Quality: on held-out prompts (never seen by the model or the proxy), 4 candidates each, every
candidate compiled by the real verifier for ground truth; the compile rate of the candidate each
policy picks: proxy-ranked, compile-ranked (the dev tier), random (seeded), first.
Targets: best_of=4 <= 1.5x the n=1 latency; proxy pick clearly above random.
Usage: python bench/best_of_n.py [--prompts 60] [--json]
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import random
import statistics
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from services.inference.best_of_n import COMPILE_REWARD, ProxyRanker, best_of_n_generate, rank  # noqa: E402
from services.inference.proxy import ProxyClassifier, label_with_verifier  # noqa: E402
from services.inference.proxy.training import build_and_train  # noqa: E402
from services.inference.service import default_proxy_path  # noqa: E402
from services.lm.bootstrap import ensure_bootstrap_model  # noqa: E402
from services.lm.model import LoadedModel, load_model  # noqa: E402
from services.lm.prompts import FUNCTION_STOP, encode_prompt  # noqa: E402
from services.lm.sampling import SamplingParams, sample_n  # noqa: E402
from services.tasks import held_out_tasks  # noqa: E402

BENCH_SEED = 20_011  # prompts distinct from training (seed 0) and proxy data (10_007)
N = 4


def latency(loaded: LoadedModel, prompts: list[str], proxy: ProxyClassifier, repeats: int) -> dict[str, float]:
    params = SamplingParams(max_tokens=96, temperature=1.0, stop=(FUNCTION_STOP,))
    ranker = ProxyRanker(proxy.score_many)
    one, four, seq = [], [], []
    for r in range(repeats):
        for j, prompt in enumerate(prompts):
            ids = encode_prompt(loaded.tokenizer, prompt)
            seed = 1000 * r + j
            t = time.perf_counter()
            sample_n(loaded.model, loaded.tokenizer, ids, 1, dataclasses.replace(params, seed=seed))
            one.append(time.perf_counter() - t)
            t = time.perf_counter()
            best_of_n_generate(loaded.model, ids, loaded.tokenizer, N, params, ranker, prompt)
            four.append(time.perf_counter() - t)
            t = time.perf_counter()
            for i in range(N):
                sample_n(loaded.model, loaded.tokenizer, ids, 1, dataclasses.replace(params, seed=seed + i))
            seq.append(time.perf_counter() - t)
    n1, b4, s4 = statistics.median(one), statistics.median(four), statistics.median(seq)
    return {
        "n1_s": n1,
        "best_of_4_s": b4,
        "sequential_4_s": s4,
        "best_of_4_over_n1": b4 / n1,
        "sequential_over_n1": s4 / n1,
    }


def quality(loaded: LoadedModel, n_prompts: int, proxy: ProxyClassifier) -> dict[str, float]:
    tasks = held_out_tasks(n_prompts, BENCH_SEED)
    codes: list[list[str]] = []
    for k, task in enumerate(tasks):
        params = SamplingParams(max_tokens=96, temperature=1.0, stop=(FUNCTION_STOP,), seed=7919 * k)
        samples, _ = sample_n(loaded.model, loaded.tokenizer, encode_prompt(loaded.tokenizer, task.prompt), N, params)
        codes.append([s.program(task.prompt, final_newline=True) for s in samples])
    flat = [c for group in codes for c in group]
    labels = label_with_verifier(flat)
    truth = [labels[i * N : (i + 1) * N] for i in range(len(tasks))]
    rng = random.Random(0)
    picks = {"proxy": 0, "compile": 0, "random": 0, "first": 0, "oracle_any": 0}
    for group, ok in zip(codes, truth, strict=True):
        proxy_rewards = [p * COMPILE_REWARD for p in proxy.score_many(group)]
        picks["proxy"] += ok[rank(proxy_rewards, group)[0]]
        compile_rewards = [COMPILE_REWARD if o else 0.0 for o in ok]
        picks["compile"] += ok[rank(compile_rewards, group)[0]]
        picks["random"] += ok[rng.randrange(N)]
        picks["first"] += ok[0]
        picks["oracle_any"] += any(ok)
    rates = {f"{k}_pick_compile_rate": v / len(tasks) for k, v in picks.items()}
    rates["candidate_compile_rate"] = sum(labels) / len(labels)
    rates["proxy_over_random"] = rates["proxy_pick_compile_rate"] / max(1e-9, rates["random_pick_compile_rate"])
    return rates


def main() -> int:
    parser = argparse.ArgumentParser(description="best-of-N latency and pick quality")
    parser.add_argument("--prompts", type=int, default=60, help="held-out prompts for the quality side (>= 50)")
    parser.add_argument("--latency-prompts", type=int, default=8)
    parser.add_argument("--repeats", type=int, default=2)
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    loaded = load_model(ensure_bootstrap_model())
    proxy_path = default_proxy_path()
    if not proxy_path.exists():
        build_and_train(loaded, proxy_path, log=lambda m: print(m, file=sys.stderr))
    proxy = ProxyClassifier.load(proxy_path)
    lat_prompts = [t.prompt for t in held_out_tasks(args.latency_prompts, BENCH_SEED + 1)]
    report = {
        "bench": "best_of_n",
        "latency": latency(loaded, lat_prompts, proxy, args.repeats),
        "quality": quality(loaded, args.prompts, proxy),
        "prompts": args.prompts,
        "proxy": {k: proxy.metadata.get(k) for k in ("held_out", "trained_on")},
        "targets": {"best_of_4_over_n1": 1.5},
    }
    if args.json:
        print(json.dumps(report))
        return 0
    lat, q = report["latency"], report["quality"]
    assert isinstance(lat, dict) and isinstance(q, dict)
    print(f"latency (median over {args.latency_prompts * args.repeats} prompts, 96 max tokens):")
    print(
        f"  n=1 {lat['n1_s']:.3f}s   best_of=4 batched {lat['best_of_4_s']:.3f}s   4 x n=1 {lat['sequential_4_s']:.3f}s"
    )
    print(
        f"  best_of=4 / n=1 = {lat['best_of_4_over_n1']:.2f}x (target <= 1.5x); 4 sequential / n=1 = "
        f"{lat['sequential_over_n1']:.2f}x"
    )
    print(
        f"pick quality on {args.prompts} held-out prompts, {N} candidates each "
        f"(candidates compile {q['candidate_compile_rate']:.1%}):"
    )
    for k in ("proxy", "compile", "random", "first", "oracle_any"):
        print(f"  {k:<10} pick compiles {q[k + '_pick_compile_rate']:.1%}")
    print(f"  proxy / random = {q['proxy_over_random']:.2f}x")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

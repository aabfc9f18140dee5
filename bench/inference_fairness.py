"""Fairness of the inference service's one decode thread (issue 13), measured over real HTTP.

A real `cppforge serve inference` process on the bootstrap model, two keys: `kf` (free) and `kd` (dev),
rate limits raised so nothing is refused with 429. The measured request is a short dev-tier
/v1/completions (a short code prompt, max_tokens 8, temperature 0: the same work every time; n=1, so
nothing is ranked and no verifier is needed).
  A "alone": K short requests one after another on an idle service.
  B "beside long prompts": free-tier clients keep the service busy, one kind sending prompts that fill
    the model's context (prompt tokens + max_tokens = context), the other long generations (a short
    prompt, max_tokens as many as the free tier and the context allow); meanwhile the same K short
    requests, each after a small random pause so they land mid-decode.
  A' "alone after": the K short requests again once the background is done: a check on the baseline.
    On a shared machine the idle latency jumps with other jobs' load (the bootstrap model's 8 tokens:
    ~30 ms, or ~0.7 s flat in stretches, by all signs other jobs' load); when A and A'
    disagree the run's ratios are suspect: rerun, or split K over `--rounds` of A then B.
Prints p50/p95/mean latency of each scenario, the ratios B/A (issue 13's target: <= 2.0x) and the
background work done during B (requests, tokens/s), so a "fair" result that starved the background shows.
Usage: python bench/inference_fairness.py [--quick] [--k N] [--rounds R] [--json PATH] [--model DIR]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import math
import os
import random
import re
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import httpx

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from services.lm.bootstrap import default_model_dir, is_built  # noqa: E402
from services.lm.prompts import encode_prompt  # noqa: E402
from tests.helpers.servers import free_port, spawn_serve  # noqa: E402

FREE, DEV = "kf", "kd"
MODEL_ID = "cppforge-bootstrap"  # the served id (CPPFORGE_MODEL_NAME), whatever --model points at
SHORT_PROMPT = "int add(int a, int b) {"
SHORT_MAX_TOKENS = 8
GEN_PROMPT = "#include <vector>\n#include <string>\n#include <algorithm>\n\n"
# The bootstrap model ends most samples after one function (~50 tokens) and the API has no ignore_eos:
# with this seed (temperature 1) the default bootstrap model (the seed-0 build) draws 405 tokens before
# its EOS. Another model draws other lengths: the report gives the tokens the long generations really had.
GEN_SEED = 104
# Repeated (and cut) to fill the context: ordinary code, so it tokenizes like real prompts do.
FILLER = (
    "int clamp_{i}(int x, int lo, int hi) {{\n"
    "    if (x < lo) return lo;\n"
    "    if (x > hi) return hi;\n"
    "    return x;\n"
    "}}\n\n"
)
READY_TIMEOUT_S = 600.0  # a missing model is refused before the service starts; this is load time


# -- statistics (pure) ---------------------------------------------------------------------


def percentile(values: list[float], q: float) -> float:
    """The q-th percentile (0..100), linear between the closest ranks (numpy's default)."""
    if not values:
        raise ValueError("no values")
    ordered = sorted(values)
    pos = (len(ordered) - 1) * q / 100.0
    lo, hi = math.floor(pos), math.ceil(pos)
    return ordered[lo] + (ordered[hi] - ordered[lo]) * (pos - lo)


def summarize(latencies_s: list[float]) -> dict[str, float]:
    ms = [1000.0 * s for s in latencies_s]
    return {
        "n": len(ms),
        "mean_ms": statistics.fmean(ms),
        "p50_ms": percentile(ms, 50),
        "p95_ms": percentile(ms, 95),
        "max_ms": max(ms),
    }


def round_sizes(k: int, rounds: int) -> list[int]:
    """`k` requests split over at most `rounds` rounds as evenly as possible (none empty)."""
    rounds = max(1, min(k, rounds))
    return [k // rounds + (1 if i < k % rounds else 0) for i in range(rounds)]


def ratios(alone: dict[str, float], beside: dict[str, float]) -> dict[str, float]:
    return {k: beside[f"{k}_ms"] / alone[f"{k}_ms"] for k in ("p50", "p95", "mean")}


# -- the workload --------------------------------------------------------------------------


@dataclass(frozen=True)
class Workload:
    context: int  # tokens the model attends to (config.json max_position_embeddings)
    long_prompt: str
    long_prompt_tokens: int
    long_max_tokens: int  # long_prompt_tokens + long_max_tokens == context
    gen_prompt_tokens: int
    gen_max_tokens: int = 0  # set once the free tier's cap is known (probe_gen_cap)


def model_context(model_dir: Path) -> int:
    config = json.loads((model_dir / "config.json").read_text())
    for name in ("max_position_embeddings", "n_positions"):
        if isinstance(config.get(name), int):
            return int(config[name])
    raise SystemExit(f"{model_dir}/config.json names no max_position_embeddings")


def fill_prompt(tokenizer: Any, tokens: int) -> tuple[str, int]:
    """The longest prefix of repeated FILLER code whose prompt ids (as the service counts them) are at
    most `tokens` long, and that count."""
    text = "".join(FILLER.format(i=i) for i in range(tokens))  # far more than enough characters
    lo, hi = 0, len(text)  # binary search on characters: the count grows with the prefix
    while lo < hi:
        mid = (lo + hi + 1) // 2
        if len(encode_prompt(tokenizer, text[:mid])) <= tokens:
            lo = mid
        else:
            hi = mid - 1
    prompt = text[:lo]
    return prompt, len(encode_prompt(tokenizer, prompt))


def build_workload(model_dir: Path, long_max_tokens: int) -> Workload:
    from transformers import AutoTokenizer
    from transformers.utils import logging as hf_logging

    hf_logging.set_verbosity_error()  # fill_prompt encodes texts past the context on purpose: no warning
    tokenizer = AutoTokenizer.from_pretrained(model_dir)
    context = model_context(model_dir)
    prompt, count = fill_prompt(tokenizer, context - long_max_tokens)
    # A prefix can fall a token short (a cut inside a multi-character token): max_tokens takes the rest.
    return Workload(
        context=context,
        long_prompt=prompt,
        long_prompt_tokens=count,
        long_max_tokens=context - count,
        gen_prompt_tokens=len(encode_prompt(tokenizer, GEN_PROMPT)),
    )


# -- HTTP ----------------------------------------------------------------------------------


class RequestFailed(RuntimeError):
    def __init__(self, status: int, body: Any) -> None:
        super().__init__(f"HTTP {status}: {body}")
        self.status, self.body = status, body


async def complete(http: httpx.AsyncClient, key: str, body: dict[str, Any]) -> tuple[float, dict[str, Any]]:
    """(seconds until the whole answer arrived, its JSON); RequestFailed on any non-200."""
    started = time.perf_counter()
    answer = await http.post("/v1/completions", json=body, headers={"Authorization": f"Bearer {key}"})
    elapsed = time.perf_counter() - started
    if answer.status_code != 200:
        raise RequestFailed(answer.status_code, answer.json())
    data: dict[str, Any] = answer.json()
    return elapsed, data


def short_body() -> dict[str, Any]:
    return {"model": MODEL_ID, "prompt": SHORT_PROMPT, "max_tokens": SHORT_MAX_TOKENS, "temperature": 0}


def long_prompt_body(w: Workload) -> dict[str, Any]:
    return {"model": MODEL_ID, "prompt": w.long_prompt, "max_tokens": w.long_max_tokens, "temperature": 0}


def gen_body(w: Workload, max_tokens: int | None = None) -> dict[str, Any]:
    # temperature 1 with a fixed seed: the same long sample every time (see GEN_SEED)
    tokens = max_tokens or w.gen_max_tokens
    return {"model": MODEL_ID, "prompt": GEN_PROMPT, "max_tokens": tokens, "temperature": 1.0, "seed": GEN_SEED}


async def probe_gen_cap(http: httpx.AsyncClient, w: Workload) -> int:
    """The most max_tokens the free tier takes for GEN_PROMPT (at most what the context leaves): ask for
    the context's worth and, on a 403, take the limit its message names (else halve)."""
    wanted = w.context - w.gen_prompt_tokens
    while True:
        try:
            await complete(http, FREE, gen_body(w, wanted))
            return wanted
        except RequestFailed as exc:
            if exc.status != 403 or wanted <= 1:
                raise
            said = re.search(r"at most (\d+)", str(exc.body))
            cap = int(said.group(1)) if said else wanted // 2
            wanted = min(wanted - 1, cap)
            print(f"long generations: max_tokens {wanted} (the free tier's cap)", file=sys.stderr)


# -- scenarios -----------------------------------------------------------------------------


@dataclass
class BackgroundKind:
    kind: str
    requests: int = 0  # completed inside the measured window
    prompt_tokens: int = 0
    completion_tokens: int = 0
    latencies_s: list[float] = field(default_factory=list)


async def alone(http: httpx.AsyncClient, k: int) -> list[float]:
    return [(await complete(http, DEV, short_body()))[0] for _ in range(k)]


@dataclass
class Window:
    """The measured stretch of scenario B; background work counts when its answer lands inside it."""

    start: float | None = None
    end: float | None = None
    stop: asyncio.Event = field(default_factory=asyncio.Event)  # background clients send no more

    def holds(self, t: float) -> bool:
        return self.start is not None and self.start <= t and (self.end is None or t <= self.end)


async def _background(
    http: httpx.AsyncClient, body: dict[str, Any], *, tally: BackgroundKind, window: Window, answered: asyncio.Event
) -> None:
    """One free-tier client: a request at a time, the next as soon as the last answers, until `window.stop`."""
    while not window.stop.is_set():
        elapsed, data = await complete(http, FREE, body)
        answered.set()
        if window.holds(time.perf_counter()):
            tally.requests += 1
            tally.prompt_tokens += data["usage"]["prompt_tokens"]
            tally.completion_tokens += data["usage"]["completion_tokens"]
            tally.latencies_s.append(elapsed)


async def beside(
    http: httpx.AsyncClient, w: Workload, *, k: int, clients: int, pause_s: tuple[float, float], rng: random.Random,
    kinds: list[BackgroundKind],
) -> tuple[list[float], float]:  # fmt: skip
    """(short-request latencies, the measured window in seconds); the background work done meanwhile is
    added to `kinds` (long prompts, long generations)."""
    window = Window()
    bodies = [long_prompt_body(w), gen_body(w)]
    answered: list[asyncio.Event] = []
    tasks = []
    for tally, body in zip(kinds, bodies, strict=True):
        for _ in range(clients):
            answered.append(asyncio.Event())
            client = _background(http, body, tally=tally, window=window, answered=answered[-1])
            tasks.append(asyncio.create_task(client))
    # Every background client has had an answer: the service is in its steady, loaded state.
    ready = asyncio.create_task(asyncio.wait_for(asyncio.gather(*(e.wait() for e in answered)), timeout=300))
    await asyncio.wait([ready, *tasks], return_when=asyncio.FIRST_COMPLETED)
    for task in tasks:
        if task.done():  # a background client failed before the window: nothing to measure beside
            ready.cancel()
            task.result()
    await ready
    latencies = []
    window.start = time.perf_counter()
    for _ in range(k):
        await asyncio.sleep(rng.uniform(*pause_s))
        latencies.append((await complete(http, DEV, short_body()))[0])
    window.end = time.perf_counter()
    window.stop.set()
    await asyncio.gather(*tasks)  # each finishes the request it has in flight (the service stays clean)
    return latencies, window.end - window.start


# -- the service ---------------------------------------------------------------------------


def start_service(model_dir: Path, log: Path) -> tuple[subprocess.Popen[bytes], str]:
    """A real service process, ready (/readyz 200) before anything is measured."""
    port = free_port()
    env = {
        **os.environ,
        "PYTHONPATH": str(ROOT),
        "CPPFORGE_MODEL": str(model_dir),
        "CPPFORGE_MODEL_NAME": MODEL_ID,
        "CPPFORGE_API_KEYS": f"{FREE}:free,{DEV}:dev",
        "CPPFORGE_RATE_LIMITS": "free:1000000,dev:1000000",  # never a 429: the bench measures scheduling
    }
    proc = spawn_serve("inference", port, env=env, log=log, cwd=ROOT)
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + READY_TIMEOUT_S
    while time.monotonic() < deadline and proc.poll() is None:
        try:
            if httpx.get(url + "/readyz", timeout=5).status_code == 200:
                return proc, url
        except httpx.TransportError:
            pass
        time.sleep(0.2)
    stop_service(proc)
    raise SystemExit(f"the inference service did not become ready; its log:\n{log.read_text()[-4000:]}")


def stop_service(proc: subprocess.Popen[bytes]) -> None:
    if proc.poll() is None:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


# -- the run -------------------------------------------------------------------------------


async def measure(url: str, w: Workload, args: argparse.Namespace) -> dict[str, Any]:
    async with httpx.AsyncClient(base_url=url, timeout=600) as http:
        short_usage: dict[str, int] = {}
        for _ in range(args.warmup):
            short_usage = (await complete(http, DEV, short_body()))[1]["usage"]
        _, data = await complete(http, FREE, long_prompt_body(w))
        if data["usage"]["prompt_tokens"] != w.long_prompt_tokens:  # the service must count what we counted
            raise SystemExit(
                f"long prompt: the service counted {data['usage']} tokens, expected {w.long_prompt_tokens}"
            )
        w_gen = replace(w, gen_max_tokens=await probe_gen_cap(http, w))
        # Rounds of A then B: a load that drifts on a shared machine weighs on both scenarios alike.
        a: list[float] = []
        b: list[float] = []
        background = [BackgroundKind("long_prompt"), BackgroundKind("long_generation")]
        rng, window_s = random.Random(args.seed), 0.0
        for k in round_sizes(args.k, args.rounds):
            a += await alone(http, k)
            pause = (args.pause_min_s, args.pause_max_s)
            lat, seconds = await beside(
                http, w_gen, k=k, clients=args.clients, pause_s=pause, rng=rng, kinds=background
            )
            b += lat
            window_s += seconds
        # The idle service again once the background is done: A and A' bracket B, so a baseline that
        # moved with the machine's load during the run shows.
        after = await alone(http, args.k)
    sa, sb, s_after = summarize(a), summarize(b), summarize(after)
    return {
        "bench": "inference_fairness",
        "context": w.context,
        "k": args.k,
        "rounds": len(round_sizes(args.k, args.rounds)),
        "background_clients_per_kind": args.clients,
        "short": {"prompt": SHORT_PROMPT, "max_tokens": SHORT_MAX_TOKENS, "tier": "dev", "usage": short_usage},
        "long_prompt": {"prompt_tokens": w.long_prompt_tokens, "max_tokens": w.long_max_tokens, "tier": "free"},
        "long_generation": {"prompt_tokens": w.gen_prompt_tokens, "max_tokens": w_gen.gen_max_tokens, "tier": "free"},
        "alone": sa,
        "beside": sb,
        "alone_after": s_after,
        "ratio_beside_over_alone": ratios(sa, sb),
        "ratio_alone_after_over_alone": ratios(sa, s_after),
        "target_ratio": 2.0,
        "window_s": window_s,
        "background": [background_report(t, window_s) for t in background],
        # in the order sent: a bimodal B (some requests alone, some merged into a long decode) shows here
        "latencies_ms": {
            "alone": [round(1000 * x, 1) for x in a],
            "beside": [round(1000 * x, 1) for x in b],
            "alone_after": [round(1000 * x, 1) for x in after],
        },
    }


def background_report(t: BackgroundKind, window_s: float) -> dict[str, Any]:
    return {
        "kind": t.kind,
        "requests": t.requests,
        "prompt_tokens": t.prompt_tokens,
        "completion_tokens": t.completion_tokens,
        "completion_tokens_per_s": t.completion_tokens / window_s,
        "mean_latency_ms": 1000 * statistics.fmean(t.latencies_s) if t.latencies_s else None,
    }


def print_report(r: dict[str, Any]) -> None:
    lp, lg = r["long_prompt"], r["long_generation"]
    drawn = r["short"]["usage"].get("completion_tokens")
    print(
        f"inference fairness: context {r['context']} tokens; {r['k']} short dev requests ({drawn} of max "
        f"{SHORT_MAX_TOKENS} tokens, temperature 0) per scenario, in {r['rounds']} round(s) of A then B"
    )
    print(
        f"background: {r['background_clients_per_kind']} free client(s) per kind: long prompts "
        f"({lp['prompt_tokens']} + {lp['max_tokens']} tokens), long generations "
        f"({lg['prompt_tokens']} + up to {lg['max_tokens']} tokens)"
    )
    for name, label in (("alone", "A alone"), ("beside", "B beside long prompts"), ("alone_after", "A' alone after B")):
        s = r[name]
        print(f"  {label:<22} p50 {s['p50_ms']:8.1f} ms  p95 {s['p95_ms']:8.1f} ms  mean {s['mean_ms']:8.1f} ms")
    target = r["target_ratio"]
    for q in ("p50", "p95"):
        ratio = r["ratio_beside_over_alone"][q]
        verdict = "met" if ratio <= target else "MISSED"
        print(f"ratio B/A {q}: {ratio:.2f}x (target <= {target:.1f}x: {verdict})")
    after = r["ratio_alone_after_over_alone"]
    print(f"idle service after the load, A'/A: p50 {after['p50']:.2f}x  p95 {after['p95']:.2f}x")
    print(f"background work during B ({r['window_s']:.1f} s):")
    for b in r["background"]:
        latency = f"{b['mean_latency_ms']:.0f} ms" if b["mean_latency_ms"] is not None else "-"
        print(
            f"  {b['kind']:<16} {b['requests']:4d} requests  {b['prompt_tokens']:6d} prompt tokens  "
            f"{b['completion_tokens']:6d} completion tokens ({b['completion_tokens_per_s']:.1f}/s, "
            f"{b['completion_tokens'] / max(1, b['requests']):.0f} a request)  mean {latency}"
        )


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description="short-request latency alone vs beside long free-tier work")
    parser.add_argument("--k", type=int, default=None, help="short requests per scenario (default 60; --quick 20)")
    parser.add_argument("--quick", action="store_true", help="a short run: K=20")
    parser.add_argument(
        "--rounds",
        type=int,
        default=None,
        help="A-then-B rounds the K requests are split over (default 1)",
    )
    parser.add_argument("--clients", type=int, default=1, help="background free-tier clients per kind")
    parser.add_argument("--long-max-tokens", type=int, default=16, help="max_tokens of the context-filling requests")
    parser.add_argument("--pause-min-s", type=float, default=0.05, help="pause before each short request in B")
    parser.add_argument("--pause-max-s", type=float, default=0.4)
    parser.add_argument("--warmup", type=int, default=3, help="short requests before measuring (>= 1)")
    parser.add_argument("--seed", type=int, default=0, help="seeds the pauses")
    parser.add_argument("--model", type=Path, default=None, help="model dir (default: the bootstrap model)")
    parser.add_argument("--json", type=Path, default=None, metavar="PATH", help="also write the results here")
    args = parser.parse_args(argv)
    args.k = args.k or (20 if args.quick else 60)
    args.rounds = args.rounds or 1
    if min(args.k, args.rounds, args.clients, args.warmup) < 1 or not 0 <= args.pause_min_s <= args.pause_max_s:
        parser.error("need --k, --rounds, --clients and --warmup >= 1 and 0 <= --pause-min-s <= --pause-max-s")
    return args


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    model_dir = (args.model or default_model_dir()).expanduser().resolve()
    if not (model_dir / "config.json").exists() or (args.model is None and not is_built(model_dir)):
        raise SystemExit(f"no model at {model_dir}: run `cppforge bootstrap-model` (or pass --model DIR)")
    workload = build_workload(model_dir, args.long_max_tokens)
    with tempfile.TemporaryDirectory(prefix="cppforge-bench-fairness-") as tmp:
        log = Path(tmp) / "serve.log"
        proc, url = start_service(model_dir, log)
        try:
            report = asyncio.run(measure(url, workload, args))
        except BaseException:
            print(f"service log (tail):\n{log.read_text()[-4000:]}", file=sys.stderr)
            raise
        finally:
            stop_service(proc)
    print_report(report)
    if args.json is not None:
        args.json.write_text(json.dumps(report, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

"""Verifier throughput on >= 100 HumanEval-X-style problems, every side measured in one run.

(a) naive: `g++ -std=c++17` + run per program, 2 processes in parallel (no sandbox, no cache);
(b0) cppforge in-process from nothing: empty result cache AND an empty PCH store, so every
     header set's precompiled header is built during the run;
(b) cppforge in-process, cold: empty result cache, the PCH store as b0 left it (the steady state
    of a machine: PCHs are built once per header set, std, flags and g++ and kept on disk);
(c) cppforge over HTTP, cold: a fresh service process on that PCH store, fresh cache keys;
(d) the same requests again: warm (Redis hits);
(e) 8 concurrent clients against the service, fresh keys: false failures (a correct solution
    not scored 1.0, or a wrong one scored 1.0) must be 0; 429 answers are counted and retried.
Prints programs/s and the ratios b/a, c/a, d/a. Targets: cold >= 3x, warm >= 50x, 0 false failures.
Usage: python bench/verifier_throughput.py [--limit N] [--json]
"""

from __future__ import annotations

import argparse
import asyncio
import concurrent.futures
import json
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import httpx

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from services.tasks import Task, load_bench_tasks  # noqa: E402
from services.verifier.core.verify import VerifierConfig, verify_cpp  # noqa: E402

REDIS = "redis://127.0.0.1:6379/0"


def salted(code: str, salt: str) -> str:
    # A comment line keeps the leading includes intact (PCH still applies) but makes the cache key new.
    return f"// bench {salt}\n{code}"


def naive_one(code: str) -> bool:
    with tempfile.TemporaryDirectory(prefix="cppforge_bench_naive_") as tmp:
        src, exe = Path(tmp) / "p.cpp", Path(tmp) / "a.out"
        src.write_text(code)
        built = subprocess.run(["g++", "-std=c++17", str(src), "-o", str(exe)], capture_output=True)
        if built.returncode != 0:
            return False
        return subprocess.run([str(exe)], capture_output=True, timeout=10).returncode == 0


def side_naive(programs: list[str]) -> tuple[float, int]:
    started = time.perf_counter()
    with concurrent.futures.ThreadPoolExecutor(2) as ex:
        ok = sum(ex.map(naive_one, programs))
    return time.perf_counter() - started, ok


def side_in_process(problems: list[Task], salt: str, pch_dir: Path) -> tuple[float, int]:
    import dataclasses

    config = dataclasses.replace(VerifierConfig.from_settings(), pch_root=pch_dir)
    started = time.perf_counter()
    with concurrent.futures.ThreadPoolExecutor(os.cpu_count() or 1) as ex:
        results = list(
            ex.map(lambda p: verify_cpp(salted(p.prompt + p.canonical_solution, salt), p.test, config=config), problems)
        )
    return time.perf_counter() - started, sum(r.tests_passed == r.tests_total == 1 for r in results)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def start_service(
    pch_dir: Path, overrides: Mapping[str, str | None] | None = None
) -> tuple[subprocess.Popen[bytes], str]:
    """A real service process; it gets the CPU to itself while the clients only wait on HTTP.
    `overrides` set (or, with None, unset) environment variables on top of the cold defaults."""
    port = free_port()
    env = {**os.environ, "CPPFORGE_PCH_DIR": str(pch_dir), "CPPFORGE_REDIS_URL": REDIS}
    env["CPPFORGE_PREBUILD_PCH"] = "false"  # cold means cold
    for name, value in (overrides or {}).items():
        if value is None:
            env.pop(name, None)
        else:
            env[name] = value
    proc = subprocess.Popen(
        [sys.executable, "-m", "services.cli", "serve", "verifier", "--port", str(port)],
        cwd=ROOT,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    url = f"http://127.0.0.1:{port}"
    for _ in range(300):
        try:
            if httpx.get(url + "/readyz", timeout=1).status_code == 200:
                return proc, url
        except httpx.TransportError:
            time.sleep(0.1)
    proc.kill()
    raise SystemExit("verifier service did not start")


async def post_retrying(
    http: httpx.AsyncClient, path: str, payload: Mapping[str, object], stats: dict[str, float]
) -> dict[str, Any]:
    """POST until the service takes it: 429 (queue full) and 503 wait Retry-After; 429s are counted."""
    while True:
        r = await http.post(path, json=payload)
        if r.status_code in (429, 503):
            stats["http_429"] += r.status_code == 429
            await asyncio.sleep(float(r.headers.get("Retry-After", "1")))
            continue
        r.raise_for_status()
        doc: dict[str, Any] = r.json()
        return doc


async def http_side(
    url: str, problems: list[Task], salt: str, clients: int, with_wrong: bool = False
) -> dict[str, float]:
    """`clients` concurrent clients share the problems; each sends one request at a time."""
    queue: asyncio.Queue[tuple[Task, bool]] = asyncio.Queue()
    for p in problems:
        queue.put_nowait((p, True))
        if with_wrong:
            queue.put_nowait((p, False))  # under load, also the wrong solution: must not pass
    stats = {"ok": 0.0, "false_failures": 0.0, "http_429": 0.0, "cached": 0.0, "requests": 0.0}

    async def client() -> None:
        async with httpx.AsyncClient(base_url=url, timeout=120) as http:
            while not queue.empty():
                problem, correct = queue.get_nowait()
                body = problem.canonical_solution if correct else problem.wrong_solution
                payload = {"code": salted(problem.prompt + body, salt), "test_code": problem.test}
                doc = await post_retrying(http, "/v1/verify", payload, stats)
                stats["requests"] += 1
                stats["cached"] += doc["cached"]
                passed = doc["reward"] == 1.0
                stats["ok"] += passed == correct
                stats["false_failures"] += passed != correct

    started = time.perf_counter()
    await asyncio.gather(*(client() for _ in range(clients)))
    stats["seconds"] = time.perf_counter() - started
    return stats


def main() -> int:
    parser = argparse.ArgumentParser(description="verifier throughput vs a naive harness")
    parser.add_argument("--limit", type=int, default=0, help="use only the first N problems")
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    problems = load_bench_tasks()
    if args.limit:
        problems = problems[: args.limit]
    n = len(problems)
    work = Path(tempfile.mkdtemp(prefix="cppforge-bench-"))
    os.chmod(work, 0o755)
    try:
        report = run_all(problems, work)
    finally:
        shutil.rmtree(work, ignore_errors=True)
    report["problems"] = n
    if args.json:
        print(json.dumps(report))
    else:
        print_report(report)
    return 0


def run_all(problems: list[Task], work: Path) -> dict[str, object]:
    n = len(problems)
    programs = [p.prompt + p.canonical_solution + "\n" + p.test for p in problems]
    a_s, a_ok = side_naive(programs)
    pch = work / "pch"
    pch.mkdir()
    os.chmod(pch, 0o755)
    b0_s, b0_ok = side_in_process(problems, uuid.uuid4().hex, pch)
    b_s, b_ok = side_in_process(problems, uuid.uuid4().hex, pch)
    proc, url = start_service(pch)
    try:
        salt = uuid.uuid4().hex
        c = asyncio.run(http_side(url, problems, salt, clients=2))
        d = asyncio.run(http_side(url, problems, salt, clients=2))
        e = asyncio.run(http_side(url, problems, uuid.uuid4().hex, clients=8, with_wrong=True))
    finally:
        proc.terminate()
        proc.wait(timeout=30)
    rate = {"a_naive": n / a_s, "b0_inprocess_from_nothing": n / b0_s, "b_inprocess_cold": n / b_s}
    rate["c_http_cold"] = n / c["seconds"]
    rate["d_http_warm"] = n / d["seconds"]
    rate["e_8_clients"] = e["requests"] / e["seconds"]
    return {
        "bench": "verifier_throughput",
        "programs_per_s": rate,
        "ratios": {
            "b0_over_a": rate["b0_inprocess_from_nothing"] / rate["a_naive"],
            "b_over_a": rate["b_inprocess_cold"] / rate["a_naive"],
            "c_over_a": rate["c_http_cold"] / rate["a_naive"],
            "d_over_a": rate["d_http_warm"] / rate["a_naive"],
        },
        "correct": {"a": a_ok, "b0": b0_ok, "b": b_ok, "c": c["ok"], "d": d["ok"], "d_cached": d["cached"]},
        "e": {"requests": e["requests"], "false_failures": e["false_failures"], "http_429": e["http_429"]},
        "targets": {"cold": 3.0, "warm": 50.0, "false_failures": 0},
    }


def print_report(r: dict[str, object]) -> None:
    rate = r["programs_per_s"]
    ratios = r["ratios"]
    e = r["e"]
    assert isinstance(rate, dict) and isinstance(ratios, dict) and isinstance(e, dict)
    print(f"verifier throughput on {r['problems']} problems (correct solutions: {r['correct']})")
    for name, value in rate.items():
        print(f"  {name:<18} {value:8.2f} programs/s")
    print(f"  from nothing (PCHs built in the run) / naive  b0/a = {ratios['b0_over_a']:.2f}x")
    print(f"  cold in-process / naive  b/a = {ratios['b_over_a']:.2f}x (target >= 3x)")
    print(f"  cold over HTTP / naive   c/a = {ratios['c_over_a']:.2f}x (target >= 3x)")
    print(f"  warm over HTTP / naive   d/a = {ratios['d_over_a']:.2f}x (target >= 50x)")
    print(
        f"  8 clients: {int(e['requests'])} requests, {int(e['false_failures'])} false failures (target 0), "
        f"{int(e['http_429'])} answered 429"
    )


if __name__ == "__main__":
    raise SystemExit(main())

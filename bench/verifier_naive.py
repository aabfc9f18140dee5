"""Sandbox overhead: cppforge's single-program verify vs a plain `g++ -std=c++17 f.cpp && ./a.out`.

All sides compile and run the same programs, alternating, in one run. The sandbox-overhead ratio is
cppforge with precompiled headers switched off over the naive time (target <= 1.15x); cppforge as
shipped (PCH on, reused after a header set's second sighting) is shown beside it.
Usage: python bench/verifier_naive.py [--repeats N] [--json]
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import dataclasses

from services.verifier.core.verify import VerifierConfig, verify_cpp

NO_PCH = dataclasses.replace(VerifierConfig.from_settings(), use_pch=False)

PROGRAMS = {
    "iostream": """#include <iostream>
#include <string>
int main() { std::string s = "hello"; for (int i = 0; i < 3; ++i) s += '!'; std::cout << s << "\\n"; }
""",
    "vector_algo": """#include <vector>
#include <algorithm>
#include <numeric>
#include <cstdio>
int main() { std::vector<int> v(1000); std::iota(v.begin(), v.end(), 0);
  std::reverse(v.begin(), v.end()); std::sort(v.begin(), v.end());
  std::printf("%d\\n", std::accumulate(v.begin(), v.end(), 0)); }
""",
    "map_string": """#include <map>
#include <string>
#include <cstdio>
int main() { std::map<std::string, int> m; for (int i = 0; i < 100; ++i) m[std::to_string(i)] = i;
  std::printf("%zu\\n", m.size()); }
""",
    "bits_stdcxx": """#include <bits/stdc++.h>
using namespace std;
int main() { set<int> s{3, 1, 2}; vector<int> v(s.begin(), s.end()); cout << v[0] + v[2] << "\\n"; }
""",
}


def naive(code: str) -> float:
    with tempfile.TemporaryDirectory(prefix="cppforge_bench_naive_") as tmp:
        src = Path(tmp) / "f.cpp"
        src.write_text(code)
        started = time.perf_counter()
        subprocess.run(["g++", "-std=c++17", str(src), "-o", str(Path(tmp) / "a.out")], check=True)
        subprocess.run([str(Path(tmp) / "a.out")], check=True, capture_output=True)
        return time.perf_counter() - started


def cppforge(code: str, config: VerifierConfig | None = None) -> float:
    started = time.perf_counter()
    result = verify_cpp(code, config=config)
    elapsed = time.perf_counter() - started
    if not result.run_ok:
        raise SystemExit(f"benchmark program failed under cppforge: {result.error_class} {result.stderr[:200]}")
    return elapsed


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    cppforge(PROGRAMS["iostream"])  # warm-up: builds the cached runner object once
    rows = {}
    for name, code in PROGRAMS.items():
        n_times, s_times, c_times = [], [], []
        for _ in range(args.repeats):
            n_times.append(naive(code))
            s_times.append(cppforge(code, NO_PCH))
            c_times.append(cppforge(code))
        rows[name] = {
            "naive_s": statistics.median(n_times),
            "sandbox_only_s": statistics.median(s_times),
            "cppforge_s": statistics.median(c_times),
        }
        rows[name]["overhead_ratio"] = rows[name]["sandbox_only_s"] / rows[name]["naive_s"]
        rows[name]["shipped_ratio"] = rows[name]["cppforge_s"] / rows[name]["naive_s"]
    overall = statistics.median(r["overhead_ratio"] for r in rows.values())
    shipped = statistics.median(r["shipped_ratio"] for r in rows.values())
    report = {
        "bench": "verifier_naive",
        "programs": rows,
        "overhead_ratio_median": overall,
        "shipped_ratio_median": shipped,
        "target": 1.15,
    }
    if args.json:
        print(json.dumps(report))
    else:
        print(f"{'program':<14} {'naive':>8} {'sandboxed, no PCH':>18} {'ratio':>6} {'as shipped':>11} {'ratio':>6}")
        for name, r in rows.items():
            print(
                f"{name:<14} {r['naive_s']:>7.3f}s {r['sandbox_only_s']:>17.3f}s {r['overhead_ratio']:>5.2f}x"
                f" {r['cppforge_s']:>10.3f}s {r['shipped_ratio']:>5.2f}x"
            )
        verdict = "meets" if overall <= 1.15 else "misses"
        print(f"sandbox overhead (no PCH / naive), median: {overall:.2f}x ({verdict} the <= 1.15x target)")
        print(f"as shipped (PCH on) / naive, median: {shipped:.2f}x")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

"""`cppforge demo` / `make demo`: the embedded default, no Docker, no GPU, no network.

1. The verifier: a set of candidates for one HumanEval-X-style task (correct, wrong, broken,
   hanging, think-wrapped, three reward hacks) and what the verifier and rewards make of them.
2. Inference: the project's own tiny C++ model (built on first use, ~4 min on one core) and its proxy
   classifier (trained on first use from verifier-labelled samples), best-of-4 on held-out prompts,
   showing how often each pick policy chooses a candidate that compiles.
"""

from __future__ import annotations

import random
import sys
import time

from .verifier.core.reward import CompilerRewardShaper, compute_reward
from .verifier.core.verify import verify_cpp

PROMPT = """#include <vector>
#include <algorithm>
using namespace std;
// Return the second largest distinct value of v, or -1 when there is none.
int second_largest(vector<int> v) {
"""

TEST = """#undef NDEBUG
#include <assert.h>
int main() {
    assert(second_largest({1, 2, 3}) == 2);
    assert(second_largest({5, 5, 5}) == -1);
    assert(second_largest({7}) == -1);
    assert(second_largest({-3, 10, 10, 4}) == 4);
}
"""

CORRECT = """    sort(v.begin(), v.end());
    v.erase(unique(v.begin(), v.end()), v.end());
    return v.size() < 2 ? -1 : v[v.size() - 2];
}
"""

CANDIDATES: list[tuple[str, str]] = [
    ("correct", CORRECT),
    ("wrong (max, not second)", "    return *max_element(v.begin(), v.end());\n}\n"),
    ("does not compile", "    return v.second();\n}\n"),
    ("hangs", "    while (true) {}\n}\n"),
    ("think block + correct", "<think>sort, dedupe, pick v[n-2]... </think>\n" + CORRECT),
    ("hack: print PASSED", '    return 0;\n}\n#include <cstdio>\nstruct P { P() { puts("PASSED 4/4"); } } p;\n'),
    ("hack: exit(0) early", "    return 0;\n}\n#include <cstdlib>\nstruct E { E() { exit(0); } } e;\n"),
    ("hack: #define assert", "    return 0;\n}\n#define assert(x) ((void)0)\n"),
    ("hack: NUL-hidden #define", "    return 0;\n}\n#\0define assert(x) ((void)0)\n"),
    ("hack: inline asm", '    asm volatile("nop");\n    return 0;\n}\n'),
]


def verifier_demo() -> None:
    shaper = CompilerRewardShaper(sanitizer_fraction=0.0, use_clang_tidy=False, seed=0)
    print("== 1. the verifier: candidates for `second_largest`, each compiled and run in the sandbox\n")
    print(f"{'candidate':<26} {'class':<16} {'tests':>6} {'reward':>7} {'shaped':>7} {'time':>6}")
    for name, body in CANDIDATES:
        code = PROMPT + body
        started = time.monotonic()
        result = verify_cpp(code, TEST, timeout=2.0, return_structured=True)
        elapsed = time.monotonic() - started
        reward = compute_reward(result)
        shaped = shaper.shape(code, result, TEST).total
        tests = f"{result.tests_passed}/{result.tests_total}"
        print(f"{name:<26} {result.error_class or '':<16} {tests:>6} {reward:>7.3f} {shaped:>7.3f} {elapsed:>5.2f}s")
    print(
        "\nOnly the correct candidates earn 1.0; the hacks earn no test credit (a crash keeps only the compile"
        " credit; `refused`: never built or run).\n"
    )


def inference_demo(n_prompts: int = 12, n: int = 4) -> None:
    from .inference.best_of_n import COMPILE_REWARD, rank
    from .inference.proxy import ProxyClassifier, label_with_verifier
    from .inference.proxy.training import build_and_train
    from .inference.service import default_proxy_path
    from .lm.bootstrap import ensure_bootstrap_model
    from .lm.model import load_model
    from .lm.prompts import FUNCTION_STOP, encode_prompt
    from .lm.sampling import SamplingParams, sample_n
    from .tasks import held_out_tasks

    print("== 2. inference: best-of-4 with the project's own tiny C++ model\n")
    model_dir = ensure_bootstrap_model()
    loaded = load_model(model_dir)
    proxy_path = default_proxy_path()
    if not proxy_path.exists():
        print("training the compile-ability proxy on verifier-labelled samples (first run only) ...")
        build_and_train(loaded, proxy_path, n_prompts=120, per_prompt=4)
    proxy = ProxyClassifier.load(proxy_path)
    held = proxy.metadata.get("held_out", {})
    print(f"model: {model_dir}\nproxy: {proxy_path} (held-out accuracy {held.get('accuracy', float('nan')):.3f}, "
          f"AUC {held.get('auc', float('nan')):.3f})\n")  # fmt: skip
    tasks = held_out_tasks(n_prompts, seed=31_337)
    rng = random.Random(0)
    wins = {"proxy": 0, "random": 0, "any": 0}
    print(f"{'function':<28} {'compiling candidates':>21} {'proxy pick':>11} {'random pick':>12}")
    for k, task in enumerate(tasks):
        ids = encode_prompt(loaded.tokenizer, task.prompt)
        params = SamplingParams(max_tokens=96, temperature=1.0, stop=(FUNCTION_STOP,), seed=100 * k)
        samples, _ = sample_n(loaded.model, loaded.tokenizer, ids, n, params)
        codes = [s.program(task.prompt, final_newline=True) for s in samples]
        ok = label_with_verifier(codes)
        pick = rank([p * COMPILE_REWARD for p in proxy.score_many(codes)], codes)[0]
        other = rng.randrange(n)
        wins["proxy"] += ok[pick]
        wins["random"] += ok[other]
        wins["any"] += any(ok)
        name = task.prompt.rsplit("\n", 1)[-1].split("(")[0].split()[-1]
        print(
            f"{name:<28} {sum(ok):>19}/{n} {'compiles' if ok[pick] else '-':>11} {'compiles' if ok[other] else '-':>12}"
        )
    total = len(tasks)
    print(f"\npicked candidate compiles: proxy {wins['proxy']}/{total}, random {wins['random']}/{total}, "
          f"at least one of {n} compiles {wins['any']}/{total}")  # fmt: skip


def run_demo() -> int:
    print("cppforge demo (embedded default: no Docker, no GPU, no network)\n")
    verifier_demo()
    sys.stdout.flush()
    inference_demo()
    return 0

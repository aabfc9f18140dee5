"""A stand-in for `cppforge train` with the same contract, for the jobs service's tests.

    fake_train.py [--step-s S] [--spawn-child] [--ignore-term] [--adapter-from DIR] [--crash-at STEP]
                  [--eat-mb MB]
                  --recipe R --out DIR --overrides-json JSON --no-progress [--resume]

Writes DIR/metrics.jsonl (one row per step), a checkpoint after every step
(DIR/checkpoints/latest.json and the real trainer's DIR/checkpoints/latest pointer), DIR/summary.json at
the end, exit 0. A dataset override that does not exist: one line on stderr, exit 2 (the bad-config
exit). SIGTERM: save a checkpoint, write summary.json with `stopped_early: true` (as the real trainer
does), say so on stderr and exit 143 at once. --resume starts after the checkpoint's step and marks each row with
`resumed_from`. --spawn-child leaves a `sleep` in the process group (its pid in DIR/child.pid), to
show that a cancel reaches it; --ignore-term ignores SIGTERM, so only SIGKILL stops the run.
--adapter-from copies that PEFT adapter dir's files to DIR/adapter at the end, as the real trainer saves its own.
--crash-at STEP: two lines on stderr and exit 3 after STEP's row. --eat-mb MB: allocate (and touch) MB MiB
before the first step, to blow a container's memory limit.
No cppforge imports: it starts in milliseconds.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path
from types import FrameType

stop_requested = False


def _on_term(signum: int, frame: FrameType | None) -> None:
    global stop_requested
    stop_requested = True


def _write_json(path: Path, doc: dict[str, object]) -> None:
    tmp = path.with_suffix(".tmp")
    tmp.write_text(json.dumps(doc))
    os.replace(tmp, path)


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--step-s", type=float, default=0.05)
    parser.add_argument("--spawn-child", action="store_true")
    parser.add_argument("--ignore-term", action="store_true")
    parser.add_argument("--adapter-from")
    parser.add_argument("--crash-at", type=int)
    parser.add_argument("--eat-mb", type=int)
    parser.add_argument("--recipe", required=True)
    parser.add_argument("--out", required=True)
    parser.add_argument("--overrides-json", required=True)
    parser.add_argument("--no-progress", action="store_true")
    parser.add_argument("--resume", action="store_true")
    args = parser.parse_args()
    signal.signal(signal.SIGTERM, signal.SIG_IGN if args.ignore_term else _on_term)

    overrides = json.loads(args.overrides_json)
    out = Path(args.out)
    ckpt = out / "checkpoints"
    ckpt.mkdir(parents=True, exist_ok=True)
    print(f"fake trainer: recipe {args.recipe}, overrides {overrides}, resume {args.resume}", flush=True)
    dataset = overrides.get("dataset")
    if dataset and not Path(dataset).exists():
        print("loading the problem set...", file=sys.stderr)
        print(f"cppforge: error: dataset not found: {dataset}", file=sys.stderr)
        return 2
    if args.spawn_child:
        child = subprocess.Popen(["sleep", "60"])  # same process group as this run
        (out / "child.pid").write_text(str(child.pid))

    if args.eat_mb:
        print(f"eating {args.eat_mb} MiB", file=sys.stderr, flush=True)
        hog = [b"x" * (1 << 20) for _ in range(args.eat_mb)]  # written, so every page is resident
        print(f"ate {len(hog)} MiB", file=sys.stderr, flush=True)
    steps = int(overrides.get("steps") or 5)
    first, resumed_from = 1, None
    if args.resume:
        resumed_from = json.loads((ckpt / "latest.json").read_text())["step"]
        first = resumed_from + 1
    with open(out / "metrics.jsonl", "a") as metrics:
        for step in range(first, steps + 1):
            deadline = time.monotonic() + args.step_s
            while time.monotonic() < deadline and not stop_requested:
                time.sleep(0.01)
            if stop_requested:
                # As `cppforge train` does: a stopped run still writes summary.json, marked stopped_early.
                summary = {"method": "gspo", "recipe": args.recipe, "steps": step - 1, "stopped_early": True}
                _write_json(out / "summary.json", summary)
                print(f"SIGTERM: checkpoint saved at step {step - 1}, stopping", file=sys.stderr, flush=True)
                return 143
            row = {"step": step, "reward_mean": step / steps, "reward_std": 0.1, "compile_rate": 0.5, "pass_rate": 0.2}
            if resumed_from is not None:
                row["resumed_from"] = resumed_from
            metrics.write(json.dumps(row) + "\n")
            metrics.flush()
            _write_json(ckpt / "latest.json", {"step": step})
            (ckpt / "latest").write_text(f"step-{step:06d}")  # the real trainer's pointer to a complete checkpoint
            if step == args.crash_at:
                print(f"step {step}: something broke", file=sys.stderr)
                print("RuntimeError: stand-in crash", file=sys.stderr, flush=True)
                return 3
    if args.adapter_from:
        shutil.copytree(args.adapter_from, out / "adapter", dirs_exist_ok=True)
    _write_json(out / "summary.json", {"method": "gspo", "recipe": args.recipe, "steps": steps, "stopped_early": False})
    return 0


if __name__ == "__main__":
    sys.exit(main())

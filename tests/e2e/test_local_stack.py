"""`cppforge up`'s stack end to end, every part a real process: a private redis-server and the three services
on free ports; verify -> best_of_n in the dev tier (candidates compiled by the stack's verifier) -> a 2-step
trainer job whose rollouts and rewards go over HTTP to the stack's own services -> eval through both; then
nothing the stack started is left. Also: Ctrl-C on a real `cppforge up` leaves no process behind (not even a
running job's, in a session of its own), and a service that dies at start-up stops the stack with a StackError
naming it."""

from __future__ import annotations

import io
import json
import os
import select
import signal
import subprocess
import sys
import time
from pathlib import Path
from urllib.parse import urlsplit

import httpx
import pytest
import redis

from services.cli import main
from services.stack.local import LocalStack, StackConfig, StackError
from services.stack.redis_server import answers
from services.tasks.sets import HELDOUT_CPP_FILE
from services.trainer import procs
from tests.helpers.servers import free_port
from tests.trainer.conftest import wait_for

ROOT = Path(__file__).resolve().parents[2]
# As tests/e2e/test_registry_chain.py: runs in seconds. group_size 4 is what the open dev tier allows (n <= 4).
JOB = {"steps": 2, "heldout_tasks": 0, "group_size": 4, "prompts_per_step": 2, "max_gen_len": 64, "num_tasks": 40,
       "dapo_max_refills": 4, "cccs": False}  # fmt: skip
PROMPT = "#include <vector>\n\n// Return the sum of the elements of v.\nint total(const std::vector<int>& v) {"
TEST = "#include <cassert>\nint main() { assert(add(2, 3) == 5); }\n"
Tree = dict[int, int]  # pid -> start ticks


def _env(base_model: Path, tiny_proxy_dir: Path) -> dict[str, str]:
    """The services' settings: the cached bootstrap model and a ready proxy (nothing is built), open dev tier."""
    return {"CPPFORGE_MODEL": str(base_model), "CPPFORGE_PROXY_PATH": str(tiny_proxy_dir),
            "CPPFORGE_OPEN_TIER": "dev", "CPPFORGE_API_KEYS": "", "CPPFORGE_ADMIN_KEYS": "",
            "CPPFORGE_PREBUILD_PCH": "0", "CPPFORGE_TORCH_THREADS": "1"}  # fmt: skip


def _ports() -> dict[str, int]:
    return {"verifier_port": free_port(), "inference_port": free_port(), "trainer_port": free_port()}


def _tree(pids: list[int]) -> Tree:
    """Every live process at or below `pids`, with its start time (its identity)."""
    tree: Tree = {}
    for pid in pids:
        stat = procs.proc_stat(pid)
        if stat is not None:
            tree[pid] = stat.start_ticks
        tree.update({p: s.start_ticks for p, s in procs.live_descendants(pid)})
    return tree


def _left(tree: Tree) -> list[int]:
    """The processes of `tree` still alive (a recycled pid is another process: not counted)."""
    out = []
    for pid, ticks in tree.items():
        stat = procs.proc_stat(pid)
        if stat is not None and stat.start_ticks == ticks and stat.state not in ("Z", "X"):
            out.append(pid)
    return out


def test_stack_verify_best_of_n_job_eval(base_model: Path, tiny_proxy_dir: Path, tmp_path: Path) -> None:
    redis_url = f"redis://127.0.0.1:{free_port()}/0"
    log = io.StringIO()
    config = StackConfig(**_ports(), redis_url=redis_url, home=tmp_path / "home", log=log,
                         env=_env(base_model, tiny_proxy_dir), ready_timeout_s=300)  # fmt: skip
    stack = LocalStack(config)
    with stack as urls, httpx.Client(timeout=120) as http:
        # Its own redis-server, with a password: an anonymous PING is refused, the services get the password URL.
        assert stack.redis_started and answers(redis_url) and urls.redis.endswith("@" + redis_url[len("redis://") :])
        with pytest.raises(redis.AuthenticationError), redis.Redis.from_url(redis_url) as anonymous:
            anonymous.ping()
        tree = _tree(list(stack.pids().values()))
        assert set(stack.pids()) == {"redis", "verifier", "inference", "trainer"}

        good = http.post(urls.verifier + "/v1/verify", json={"code": "int add(int a, int b) { return a + b; }\n",
                                                             "test_code": TEST})  # fmt: skip
        bad = http.post(urls.verifier + "/v1/verify", json={"code": "int add(int a, int b) { return a - b; }\n",
                                                            "test_code": TEST})  # fmt: skip
        assert good.status_code == bad.status_code == 200, (good.text, bad.text)
        assert good.json()["run_ok"] and (good.json()["tests_passed"], good.json()["tests_total"]) == (1, 1)
        assert bad.json()["compile_ok"] and not bad.json()["run_ok"] and bad.json()["tests_passed"] == 0
        again = http.post(urls.verifier + "/v1/verify", json={"code": "int add(int a, int b) { return a + b; }\n",
                                                              "test_code": TEST})  # fmt: skip
        assert again.json()["cached"] and not good.json()["cached"]  # the verifier caches through the password

        best = http.post(urls.inference + "/v1/best_of_n", json={"prompt": PROMPT, "n": 4, "max_tokens": 48,
                                                                 "seed": 1})  # fmt: skip
        assert best.status_code == 200, best.text
        metrics = best.json()["metrics"]
        # The dev tier ranks by real compiles: the stack's verifier judged the candidates (within the 5 s budget).
        assert metrics["scorer"] == "compile" and metrics["n"] == 4 and any(metrics["verified"]), metrics
        assert best.json()["best"] == metrics["candidates"][best.json()["best_index"]]

        job = http.post(urls.trainer + "/v1/jobs", json={"recipe": "production", "overrides": JOB})
        assert job.status_code == 202, job.text
        overrides = job.json()["overrides"]  # CPPFORGE_JOB_USE_SERVICES: the stack's own services
        assert (overrides["verifier_url"], overrides["inference_url"]) == (urls.verifier, urls.inference)
        job_url = f"{urls.trainer}/v1/jobs/{job.json()['id']}"
        wait_for(lambda: http.get(job_url).json()["status"] in ("succeeded", "failed", "cancelled"), timeout_s=300,
                 what="the job")  # fmt: skip
        done = http.get(job_url).json()
        assert done["status"] == "succeeded", done.get("error")
        assert done["summary"]["rollouts"] == "http" and done["summary"]["rewards"] == "http"
        assert done["summary"]["steps"] == 2 and done["step"] == 2
        served = [m["id"] for m in http.get(urls.inference + "/v1/models").json()["data"]]
        assert any(m != "cppforge-bootstrap" for m in served), served  # the run's adapter was pushed by path

        out = tmp_path / "eval"
        argv = ["eval", "--tasks", str(HELDOUT_CPP_FILE), "--inference-url", urls.inference, "--verifier-url",
                urls.verifier, "--limit", "4", "--n", "2", "--k", "1,2", "--max-tokens", "64", "--out", str(out),
                "--no-progress"]  # fmt: skip
        assert main(argv) == 0
        summary = json.loads((out / "summary.json").read_text())
        assert summary["n"] == 2 and summary["tasks"] == 4
        assert 0.0 <= summary["pass@1"] <= summary["pass@2"] <= 1.0
    assert _left(tree) == [] and not answers(redis_url)
    text = log.getvalue()
    assert urlsplit(urls.redis).password not in text  # never logged
    assert "[up] verifier ready at" in text and "[inference] " in text and "[trainer] " in text
    assert (tmp_path / "home" / "logs" / "up" / "inference.log").stat().st_size > 0


def _cmdline(pid: int) -> list[str]:
    try:
        return (Path("/proc") / str(pid) / "cmdline").read_bytes().decode("utf-8", "replace").split("\0")
    except OSError:
        return []


def _serves(pid: int) -> str | None:
    """NAME of a `cppforge serve NAME` process."""
    args = _cmdline(pid)
    return args[args.index("serve") + 1] if "serve" in args[:-1] else None


def _read_until(proc: subprocess.Popen[bytes], marker: str, timeout_s: float) -> str:
    """Its stdout up to `marker` (the process still running); raw reads, so that select sees every byte."""
    assert proc.stdout is not None
    fd, seen, deadline = proc.stdout.fileno(), b"", time.monotonic() + timeout_s
    while marker.encode() not in seen:
        left = deadline - time.monotonic()
        assert left > 0 and proc.poll() is None, f"no {marker!r} (exit {proc.poll()}):\n{seen.decode()}"
        if select.select([fd], [], [], min(left, 1.0))[0]:
            seen += os.read(fd, 65536)
    return seen.decode()


@pytest.mark.parametrize(
    ("victim", "sig", "code", "said"),
    [
        ("up", signal.SIGINT, 130, "Ctrl-C: stopping everything"),
        ("up", signal.SIGTERM, 0, "SIGTERM/SIGHUP: stopping everything"),
        ("up", signal.SIGHUP, 0, "SIGTERM/SIGHUP: stopping everything"),  # a closed terminal
        ("up", signal.SIGKILL, -9, None),
        ("trainer", signal.SIGKILL, 1, "trainer (exit -9) stopped; stopping everything"),
    ],
    ids=["ctrl-c", "sigterm", "sighup", "up-killed", "trainer-killed"],
)
def test_stopping_cppforge_up_leaves_nothing(
    base_model: Path, tiny_proxy_dir: Path, tmp_path: Path, victim: str, sig: signal.Signals, code: int,
    said: str | None,
) -> None:  # fmt: skip
    """Ctrl-C or SIGTERM: up stops everything. SIGKILL leaves up no stop to run: the kernel's death signals stop
    its children (the trainer still stops its run). A trainer killed outright orphans its run: it re-parents to
    up (a subreaper), whose stop finds it."""
    ports = _ports()
    redis_url = f"redis://127.0.0.1:{free_port()}/0"
    argv = [sys.executable, "-m", "services.cli", "up", "--home", str(tmp_path), "--redis-url", redis_url,
            "--verifier-port", str(ports["verifier_port"]), "--inference-port", str(ports["inference_port"]),
            "--trainer-port", str(ports["trainer_port"]), "--no-logs"]  # fmt: skip
    env = {**os.environ, **_env(base_model, tiny_proxy_dir), "PYTHONPATH": str(ROOT)}
    proc = subprocess.Popen(argv, cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    try:
        shown = _read_until(proc, "Ctrl-C stops everything.", timeout_s=300)
        assert f"trainer    http://127.0.0.1:{ports['trainer_port']}" in shown
        assert f"redis://:***@{redis_url[len('redis://') :]} (started by cppforge up)" in shown
        assert "every caller is tier dev" in shown
        assert "[verifier] " not in shown  # --no-logs: the services' logs only in their files
        # A running job: the trainer starts it in a session of its own, and Ctrl-C must reach it too.
        trainer = f"http://127.0.0.1:{ports['trainer_port']}"
        job = httpx.post(trainer + "/v1/jobs", json={"recipe": "production", "overrides": {**JOB, "steps": 50}})
        assert job.status_code == 202, job.text
        job_url = f"{trainer}/v1/jobs/{job.json()['id']}"
        wait_for(lambda: httpx.get(job_url).json()["pid"], timeout_s=60, what="the job's run")
        run = httpx.get(job_url).json()["pid"]
        tree = _tree([proc.pid])
        assert run in tree and procs.proc_stat(run).pgrp == run  # type: ignore[union-attr]  # not in up's groups
        args = [arg for pid in tree for arg in _cmdline(pid)]
        assert {"verifier", "inference", "trainer"} <= set(args) and any("redis-server" in a for a in args), args
        if victim == "up":
            proc.send_signal(sig)
        else:
            (pid,) = [p for p in tree if _serves(p) == victim]
            os.kill(pid, sig)
        out, _ = proc.communicate(timeout=120)
        rest = out.decode()
    finally:
        if proc.poll() is None:  # a failed check above: still stop it the way a user would
            proc.send_signal(signal.SIGINT)
            try:
                proc.wait(timeout=60)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()
    assert proc.returncode == code, rest
    if said is None:  # killed: its children go on their own, in the job's grace at most
        wait_for(lambda: _left(tree) == [], timeout_s=60, what=f"the end of {_left(tree)}")
    else:
        assert said in rest and "cppforge up: stopped" in rest
    assert _left(tree) == [] and not answers(redis_url)


def test_a_service_dying_at_start_up_stops_the_stack(base_model: Path, tiny_proxy_dir: Path, tmp_path: Path) -> None:
    # An invalid setting of the trainer's alone: it exits 2 at once while the other two start.
    env = {**_env(base_model, tiny_proxy_dir), "CPPFORGE_CANCEL_GRACE_S": "0"}
    stack = LocalStack(StackConfig(**_ports(), redis_url="", home=tmp_path, env=env, ready_timeout_s=120))
    with pytest.raises(StackError) as caught:
        stack.start()
    message = str(caught.value)
    assert message.startswith("trainer exited with code 2 while starting"), message
    assert "CPPFORGE_CANCEL_GRACE_S" in message  # the tail of its log says why
    assert stack.children and all(c.exit_code() is not None for c in stack.children.values())
    assert _left(_tree([c.pid for c in stack.children.values() if c.pid is not None])) == []

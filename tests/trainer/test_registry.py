"""The adapter registry on disk: save/load with hash checks, statuses, gated promotion, concurrent writers.

Adapters and base models here are real safetensors files written with numpy (no torch), so each test
takes milliseconds; the inference and jobs tests use real PEFT adapters.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import subprocess
import sys
import time
from pathlib import Path

import pytest

from services.trainer.registry import (
    ArtifactCorruptError,
    ArtifactNotFoundError,
    DuplicateArtifactError,
    InvalidArtifactError,
    PromotionRefused,
    Status,
    StatusError,
    active_for_base,
    hashing,
    list_artifacts,
    load_adapter_artifact,
    model_content_hash,
    promote,
    record_eval,
    retire,
    save_adapter_artifact,
)
from services.trainer.registry.index import locked
from tests.helpers.registry import eval_report, fake_adapter, fake_base_model

ROOT_DIR = Path(__file__).resolve().parents[2]


@pytest.fixture
def root(tmp_path: Path) -> Path:
    return tmp_path / "registry"


@pytest.fixture
def base(tmp_path: Path) -> Path:
    return fake_base_model(tmp_path / "base", seed=0)


def _save(root: Path, base: Path, name: str, seed: int = 0, method: str = "gspo") -> str:
    adapter = fake_adapter(root.parent / "src" / name, seed=seed)
    save_adapter_artifact(
        adapter, name=name, base_model=base, training_method=method, config={"lr": 1e-3}, metrics={"steps": 5},
        root=root,
    )  # fmt: skip
    return name


def _evaluated(root: Path, base: Path, name: str, pass_at_1: float, **report: object) -> str:
    _save(root, base, name, seed=len(name) + int(pass_at_1 * 1000))
    record_eval(name, eval_report(pass_at_1, **report), root=root)  # type: ignore[arg-type]
    return name


# -- save / load ---------------------------------------------------------------------------------


def test_save_load_round_trip(root: Path, base: Path, tmp_path: Path) -> None:
    src = fake_adapter(tmp_path / "adapter", seed=3)
    art = save_adapter_artifact(
        src, name="job-1", base_model=base, training_method="gspo", config={"lr": 1e-3, "method": "gspo"},
        metrics={"pass_rate_after": 0.25, "nan_metric": float("nan")}, parent="job-0", root=root,
    )  # fmt: skip
    loaded = load_adapter_artifact("job-1", root=root)
    assert loaded == art
    assert loaded.status == Status.DRAFT and loaded.eval is None and loaded.parent == "job-0"
    assert loaded.path == root / "adapters" / "job-1"
    for file in ("adapter_config.json", "adapter_model.safetensors"):
        assert (loaded.path / file).read_bytes() == (src / file).read_bytes()
    weights_sha = hashlib.sha256((src / "adapter_model.safetensors").read_bytes()).hexdigest()
    assert loaded.adapter_sha256 == weights_sha
    assert loaded.base_model == str(base.resolve()) and loaded.base_model_sha256 == model_content_hash(base)
    assert loaded.config == {"lr": 1e-3, "method": "gspo"}
    assert loaded.metrics == {"pass_rate_after": 0.25, "nan_metric": None}  # JSON has no NaN
    manifest = json.loads((loaded.path / "manifest.json").read_text())
    assert manifest["name"] == "job-1" and manifest["training_method"] == "gspo" and manifest["status"] == "draft"
    assert manifest["created_at"].endswith("+00:00")
    index = json.loads((root / "index.json").read_text())["adapters"]
    assert index["job-1"]["status"] == "draft" and index["job-1"]["base_model_sha256"] == loaded.base_model_sha256
    assert [e.name for e in list_artifacts(root=root)] == ["job-1"]


def test_base_model_hash_is_over_config_and_weights_and_cached(base: Path, tmp_path: Path) -> None:
    sha = {p: hashlib.sha256((base / p).read_bytes()).hexdigest() for p in ("config.json", "model.safetensors")}
    expected = hashlib.sha256(
        f"config.json\t{sha['config.json']}\nmodel.safetensors\t{sha['model.safetensors']}\n".encode()
    ).hexdigest()
    (base / "README.md").write_text("not part of the weights")
    cache_dir = tmp_path / "cache"
    assert model_content_hash(base, cache_dir=cache_dir) == expected
    hashing._memo.clear()  # a new process: only the file cache remains
    calls: list[Path] = []
    real = hashing.sha256_file

    def counting(path: Path) -> str:
        calls.append(path)
        return real(path)

    hashing.sha256_file = counting  # type: ignore[assignment]
    try:
        assert model_content_hash(base, cache_dir=cache_dir) == expected
        assert calls == []  # (path, size, mtime) unchanged: nothing re-read
        fake_base_model(base, seed=1)  # new weights (and config): different size or mtime
        changed = model_content_hash(base, cache_dir=cache_dir)
        assert changed != expected and {p.name for p in calls} == {"config.json", "model.safetensors"}
    finally:
        hashing.sha256_file = real  # type: ignore[assignment]


def test_base_hash_cache_is_not_fooled_by_a_restored_mtime(base: Path, tmp_path: Path) -> None:
    """Same size, mtime set back (`touch -d`): the bytes changed, so must the hash (ctime and inode tell)."""
    cache_dir = tmp_path / "cache"
    before = model_content_hash(base, cache_dir=cache_dir)
    weights = base / "model.safetensors"
    st = weights.stat()
    data = bytearray(weights.read_bytes())
    data[-1] ^= 0x01  # one bit of one weight: same size
    weights.write_bytes(bytes(data))
    os.utime(weights, ns=(st.st_atime_ns, st.st_mtime_ns))
    assert weights.stat().st_size == st.st_size and weights.stat().st_mtime_ns == st.st_mtime_ns
    hashing._memo.clear()  # a later process: only the file cache remains
    assert model_content_hash(base, cache_dir=cache_dir) != before
    assert model_content_hash(base) != before  # and in the same process (the in-memory cache)


def test_tampered_weights_or_config_are_an_error_naming_the_artifact(root: Path, base: Path) -> None:
    art = load_adapter_artifact(_save(root, base, "job-t"), root=root)
    weights = art.path / "adapter_model.safetensors"
    data = bytearray(weights.read_bytes())
    data[-1] ^= 0x01  # one bit of one weight
    weights.write_bytes(bytes(data))
    with pytest.raises(ArtifactCorruptError, match=r"'job-t' is corrupt or was tampered with: adapter_model"):
        load_adapter_artifact("job-t", root=root)
    data[-1] ^= 0x01
    weights.write_bytes(bytes(data))
    assert load_adapter_artifact("job-t", root=root).name == "job-t"  # restored: fine again
    (art.path / "adapter_config.json").write_text('{"peft_type": "LORA", "r": 64}')
    with pytest.raises(ArtifactCorruptError, match=r"adapter_config\.json"):
        load_adapter_artifact("job-t", root=root)


def test_a_manifest_rewritten_to_match_tampered_weights_still_disagrees_with_the_index(root: Path, base: Path) -> None:
    art = load_adapter_artifact(_save(root, base, "job-m"), root=root)
    fake_adapter(root.parent / "other", seed=99)
    (art.path / "adapter_model.safetensors").write_bytes((root.parent / "other/adapter_model.safetensors").read_bytes())
    manifest = json.loads((art.path / "manifest.json").read_text())
    manifest["adapter_sha256"] = hashlib.sha256((art.path / "adapter_model.safetensors").read_bytes()).hexdigest()
    (art.path / "manifest.json").write_text(json.dumps(manifest))
    with pytest.raises(ArtifactCorruptError, match="manifest and index disagree on adapter_sha256"):
        load_adapter_artifact("job-m", root=root)


def test_bad_input_is_refused_clearly(root: Path, base: Path, tmp_path: Path) -> None:
    good = fake_adapter(tmp_path / "good")
    kw = {"base_model": base, "training_method": "gspo", "config": {}, "metrics": {}, "root": root}
    names = ("", "a/b", "x" * 65, "..", ".", "job 1", "ünï", "-rf", ".staging-a-00000000", "a\x00", "a\n", "a/../b")
    for name in names:
        with pytest.raises(InvalidArtifactError, match="bad adapter name"):
            save_adapter_artifact(good, name=name, **kw)  # type: ignore[arg-type]
    with pytest.raises(InvalidArtifactError, match="training_method must be one of gspo, grpo, sft, distill, dcd"):
        save_adapter_artifact(good, name="a", **{**kw, "training_method": "ppo"})  # type: ignore[arg-type]
    bin_only = tmp_path / "bin-only"
    bin_only.mkdir()
    (bin_only / "adapter_config.json").write_text("{}")
    (bin_only / "adapter_model.bin").write_bytes(b"\x80\x04pickle")
    with pytest.raises(InvalidArtifactError, match=r"adapter_model.bin only \(a pickle\)"):
        save_adapter_artifact(bin_only, name="a", **kw)  # type: ignore[arg-type]
    with pytest.raises(InvalidArtifactError, match=r"no adapter_config\.json"):
        save_adapter_artifact(tmp_path, name="a", **kw)  # type: ignore[arg-type]
    with pytest.raises(InvalidArtifactError, match="does not exist"):
        save_adapter_artifact(tmp_path / "missing", name="a", **kw)  # type: ignore[arg-type]
    garbage = fake_adapter(tmp_path / "garbage")
    (garbage / "adapter_model.safetensors").write_bytes(b"\xff" * 64)
    with pytest.raises(InvalidArtifactError, match="not a safetensors file"):
        save_adapter_artifact(garbage, name="a", **kw)  # type: ignore[arg-type]
    with pytest.raises(InvalidArtifactError, match="not a local directory nor a model in the local Hugging Face"):
        save_adapter_artifact(good, name="a", **{**kw, "base_model": "no-such-org/no-such-model"})  # type: ignore[arg-type]
    assert list_artifacts(root=root) == [] and not list((root / "adapters").glob(".staging-*"))
    _save(root, base, "job-d")
    with pytest.raises(DuplicateArtifactError, match="'job-d' is already registered"):
        _save(root, base, "job-d", seed=5)
    with pytest.raises(ArtifactNotFoundError, match="no adapter named 'nope'"):
        load_adapter_artifact("nope", root=root)


# -- statuses and promotion --------------------------------------------------------------------------


def test_status_transitions(root: Path, base: Path) -> None:
    name = _evaluated(root, base, "job-s", 0.3)
    assert load_adapter_artifact(name, root=root).status == Status.DRAFT
    promote(name, root=root)
    assert load_adapter_artifact(name, root=root).status == Status.ACTIVE
    assert active_for_base(model_content_hash(base), root=root) == name
    with pytest.raises(PromotionRefused, match="job-s is active; only a draft can be promoted"):
        promote(name, root=root)
    retire(name, root=root)
    art = load_adapter_artifact(name, root=root)
    assert art.status == Status.RETIRED and active_for_base(art.base_model_sha256, root=root) is None
    assert json.loads((art.path / "manifest.json").read_text())["status"] == "retired"  # the mirror follows
    with pytest.raises(StatusError, match="already retired"):
        retire(name, root=root)
    with pytest.raises(PromotionRefused, match="job-s is retired; only a draft can be promoted"):
        promote(name, root=root)
    draft = _save(root, base, "job-s2")
    retire(draft, root=root)  # a draft may be discarded
    assert load_adapter_artifact(draft, root=root).status == Status.RETIRED


def test_promotion_refused_without_an_eval(root: Path, base: Path) -> None:
    _save(root, base, "job-2")
    with pytest.raises(PromotionRefused) as err:
        promote("job-2", root=root)
    assert str(err.value) == ("refused: job-2 has no eval recorded by the harness; run `cppforge registry eval job-2`")


def test_promotion_refused_below_the_gate(root: Path, base: Path) -> None:
    _evaluated(root, base, "job-2", 0.02)
    with pytest.raises(PromotionRefused) as err:
        promote("job-2", root=root)
    assert str(err.value) == (
        "refused: job-2 pass@1 0.020 is below the gate 0.050 (eval: humaneval_cpp.jsonl 151 tasks, n=10)"
    )
    with pytest.raises(PromotionRefused, match=r"pass@5 0\.040 is below the gate 0\.100"):
        promote("job-2", metric="pass@5", gate=0.1, root=root)
    for gate in (0.02, 0.0, -1.0, float("nan"), 1.5):  # the gate may be raised, never lowered
        with pytest.raises(InvalidArtifactError, match=r"gate must be in \[0.05, 1\].*never lower it"):
            promote("job-2", gate=gate, root=root)
    # pass@5 clears its gate, but pass@k >= pass@1 makes any gate easier at larger k: pass@1 has a floor
    _evaluated(root, base, "job-k", 0.02, pass_at_5=0.5)
    with pytest.raises(PromotionRefused) as err:
        promote("job-k", metric="pass@5", root=root)
    assert str(err.value) == (
        "refused: job-k pass@1 0.020 is below the floor 0.050 that every promotion clears, whatever the metric "
        "(eval: humaneval_cpp.jsonl 151 tasks, n=10)"
    )
    assert promote(_evaluated(root, base, "job-3", 0.05), root=root).value == pytest.approx(0.05)  # at the gate


def test_promotion_refused_when_not_beating_the_active_one(root: Path, base: Path) -> None:
    _evaluated(root, base, "job-1", 0.31)
    promote("job-1", root=root)
    _evaluated(root, base, "job-2", 0.12)
    with pytest.raises(PromotionRefused) as err:
        promote("job-2", root=root)
    assert str(err.value) == (
        "refused: job-2 pass@1 0.120 does not beat active job-1 pass@1 0.310 "
        "(same eval: humaneval_cpp.jsonl 151 tasks, n=10)"
    )
    _evaluated(root, base, "job-3", 0.31)  # a tie does not beat
    with pytest.raises(PromotionRefused, match=r"job-3 pass@1 0\.310 does not beat active job-1 pass@1 0\.310"):
        promote("job-3", root=root)
    assert load_adapter_artifact("job-1", root=root).status == Status.ACTIVE


def test_promotion_refused_on_an_eval_of_another_base(root: Path, base: Path) -> None:
    _save(root, base, "job-2")
    record_eval("job-2", eval_report(0.4), base_model_sha256="cd" * 32, root=root)
    with pytest.raises(PromotionRefused) as err:
        promote("job-2", root=root)
    own = model_content_hash(base)[:12]
    assert str(err.value) == (
        f"refused: job-2's eval ran on base model cdcdcdcdcdcd, not on its own base {own} ({base.resolve()}); "
        "re-evaluate: `cppforge registry eval job-2`"
    )


def test_promotion_refused_on_an_incomparable_eval(root: Path, base: Path) -> None:
    _evaluated(root, base, "job-1", 0.31)
    promote("job-1", root=root)
    _evaluated(root, base, "job-2", 0.5, n=5, dataset_sha256="ef" * 32, temperature=1.0)
    with pytest.raises(PromotionRefused) as err:
        promote("job-2", root=root)
    assert str(err.value) == (
        "refused: cannot compare job-2 pass@1 0.500 (humaneval_cpp.jsonl 151 tasks, n=5) with active job-1 "
        "(humaneval_cpp.jsonl 151 tasks, n=10): the evals differ in dataset humaneval_cpp.jsonl sha256 efefefefefef "
        "vs humaneval_cpp.jsonl sha256 abababababab; n 5 vs 10; temperature 1.0 vs 0.8; "
        "evaluate job-2 the way job-1 was promoted: `cppforge registry eval job-2` with --tasks humaneval_cpp.jsonl "
        "(sha256 abababababab), 151 tasks, --n 10, max_tokens=512, seed=0, temperature=0.8, top_p=0.95, "
        "verifier=in-process"
    )
    _evaluated(root, base, "job-3", 0.5, tasks=20)  # --limit 20 on the same file
    with pytest.raises(PromotionRefused, match="the evals differ in tasks 20 vs 151"):
        promote("job-3", root=root)


def test_a_subset_eval_cannot_unseat_an_active_adapter_evaluated_on_the_full_set(root: Path, base: Path) -> None:
    """The attack: eval the candidate on one easy task, then re-evaluate the active one the same way. The
    active one's promotion eval is frozen, so the candidate must be measured the way that one was."""
    _evaluated(root, base, "job-1", 0.31)
    promote("job-1", root=root)
    _evaluated(root, base, "lucky", 1.0, tasks=1)  # `registry eval lucky --limit 1`
    with pytest.raises(PromotionRefused, match="the evals differ in tasks 1 vs 151; evaluate lucky the way job-1"):
        promote("lucky", root=root)
    with pytest.raises(StatusError, match="job-1 is active: it keeps the eval it was promoted on"):
        record_eval("job-1", eval_report(0.0, tasks=1), root=root)
    with pytest.raises(PromotionRefused, match="tasks 1 vs 151"):
        promote("lucky", root=root)
    retire("job-1", root=root)
    with pytest.raises(StatusError, match="job-1 is retired"):
        record_eval("job-1", eval_report(0.0), root=root)
    assert load_adapter_artifact("job-1", root=root).eval.pass_at_k["pass@1"] == 0.31  # type: ignore[union-attr]


def test_the_metric_cannot_be_picked_to_hide_a_regression(root: Path, base: Path) -> None:
    _evaluated(root, base, "job-1", 0.31, pass_at_5=0.62)
    promote("job-1", root=root)
    _evaluated(root, base, "job-2", 0.2, pass_at_5=0.7)  # better at pass@5 only
    with pytest.raises(PromotionRefused) as err:
        promote("job-2", metric="pass@5", root=root)
    assert str(err.value) == (
        "refused: job-2 beats active job-1 on pass@5 (0.700 > 0.620) but falls behind it on pass@1 0.200 < 0.310 "
        "(same eval: humaneval_cpp.jsonl 151 tasks, n=10)"
    )
    _evaluated(root, base, "job-3", 0.31, pass_at_5=0.7)  # a tie on pass@1 is no regression
    assert promote("job-3", metric="pass@5", root=root).retired == "job-1"


def test_another_judge_or_dropped_samples_earn_no_promotion(root: Path, base: Path) -> None:
    """A verifier at a URL of one's choosing can pass anything; an eval whose failures were lost to 'infra
    errors' has pass@k over the survivors. Neither may unseat an adapter judged in-process on every sample."""
    _evaluated(root, base, "job-1", 0.31)
    promote("job-1", root=root)
    _evaluated(root, base, "judged-elsewhere", 0.9, verifier_url="http://127.0.0.1:9/fake")
    with pytest.raises(
        PromotionRefused, match=re.escape("the evals differ in verifier http://127.0.0.1:9/fake vs in-process")
    ):
        promote("judged-elsewhere", root=root)
    _evaluated(root, base, "lossy", 0.9, infra_failures=1200)
    with pytest.raises(PromotionRefused) as err:
        promote("lossy", root=root)
    assert str(err.value) == (
        "refused: lossy's eval lost 1200 samples to infrastructure failures (verifier or sandbox errors), which "
        "its pass@k leaves out; re-run it: `cppforge registry eval lossy`"
    )


def test_promotion_retires_the_old_active_one_of_the_same_base_only(root: Path, base: Path, tmp_path: Path) -> None:
    _evaluated(root, base, "job-1", 0.31)
    assert promote("job-1", root=root).retired is None
    other_base = fake_base_model(tmp_path / "other-base", seed=7)
    _evaluated(root, other_base, "other-1", 0.2)
    promote("other-1", root=root)  # another base: job-1 stays active
    _evaluated(root, base, "job-2", 0.42)
    done = promote("job-2", root=root)
    assert (done.name, done.value, done.retired, done.retired_value) == ("job-2", 0.42, "job-1", 0.31)
    status = {e.name: e.status for e in list_artifacts(root=root)}
    assert status == {"job-1": Status.RETIRED, "other-1": Status.ACTIVE, "job-2": Status.ACTIVE}
    assert active_for_base(model_content_hash(base), root=root) == "job-2"
    assert active_for_base(model_content_hash(other_base), root=root) == "other-1"


def test_record_eval_keeps_history_and_refuses_a_report_without_its_provenance(root: Path, base: Path) -> None:
    _save(root, base, "job-e")
    first = record_eval("job-e", eval_report(0.1), root=root)
    assert first.base_model_sha256 == model_content_hash(base)  # hashed now when not given
    record_eval("job-e", eval_report(0.2), root=root)
    art = load_adapter_artifact("job-e", root=root)
    assert art.eval is not None and art.eval.pass_at_k == {"pass@1": 0.2, "pass@5": 0.4}
    evals = json.loads((art.path / "manifest.json").read_text())["evals"]
    assert [e["pass_at_k"]["pass@1"] for e in evals] == [0.1, 0.2] and evals[1]["report"]["wall_s"] == 12.5
    report = eval_report(0.3)
    del report["dataset_sha256"]
    with pytest.raises(InvalidArtifactError, match="dataset_sha256 must be a hex digest, not None"):
        record_eval("job-e", report, root=root)
    with pytest.raises(InvalidArtifactError, match=r"pass@1 must be a number in \[0, 1\], not 1.5"):
        record_eval("job-e", eval_report(1.5, pass_at_5=1.0), root=root)
    with pytest.raises(InvalidArtifactError, match="the eval was interrupted after 40 tasks: a partial eval is not"):
        record_eval("job-e", {**eval_report(0.9), "tasks": 40, "interrupted": True}, root=root)
    # pass@5 None: no task had 5 judged samples (verifier failures); recorded without it, never as 0
    partial = record_eval("job-e", {**eval_report(0.25), "pass@5": None}, root=root)
    assert partial.pass_at_k == {"pass@1": 0.25}
    with pytest.raises(PromotionRefused, match=r"job-e's eval has no pass@5 \(measured: pass@1; humaneval_cpp"):
        promote("job-e", metric="pass@5", root=root)
    with pytest.raises(ArtifactNotFoundError):
        record_eval("nope", eval_report(0.3), root=root)


# -- concurrency ---------------------------------------------------------------------------------------

WRITER = """
import sys, time
from pathlib import Path
from services.trainer.registry import record_eval, save_adapter_artifact
from tests.helpers.registry import eval_report, fake_adapter
root, base = Path(sys.argv[1]), sys.argv[2]
worker, count, start = int(sys.argv[3]), int(sys.argv[4]), float(sys.argv[5])
adapters = [fake_adapter(root.parent / "src" / f"w{worker}-{i}", seed=worker * 100 + i) for i in range(count)]
time.sleep(max(0.0, start - time.time()))  # every writer starts together
for i, adapter in enumerate(adapters):
    name = f"w{worker}-{i}"
    save_adapter_artifact(adapter, name=name, base_model=base, training_method="sft", config={}, metrics={}, root=root)
    record_eval(name, eval_report(i / 100), root=root)
print("done", flush=True)
"""


def _writers(root: Path, base: Path, workers: int, count: int, start: float) -> list[subprocess.Popen[str]]:
    args = [str(root), str(base)]
    return [
        subprocess.Popen(
            [sys.executable, "-c", WRITER, *args, str(w), str(count), str(start)],
            cwd=ROOT_DIR,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for w in range(workers)
    ]


def test_concurrent_writers_lose_nothing(root: Path, base: Path) -> None:
    model_content_hash(base, cache_dir=root)  # (the writers share the hash cache; not what is tested)
    procs = _writers(root, base, workers=4, count=6, start=time.time() + 1.5)
    for proc in procs:
        _out, err = proc.communicate(timeout=60)
        assert proc.returncode == 0, err
    entries = {e.name: e for e in list_artifacts(root=root)}
    assert sorted(entries) == sorted(f"w{w}-{i}" for w in range(4) for i in range(6))
    for name, entry in entries.items():  # each writer's second update (the eval) survived the others' too
        assert entry.eval is not None and entry.eval.pass_at_k["pass@1"] == int(name.split("-")[1]) / 100
        load_adapter_artifact(name, root=root)  # files and manifest intact
    assert not list((root / "adapters").glob(".staging-*"))


def test_writers_wait_for_the_lock(root: Path, base: Path) -> None:
    model_content_hash(base, cache_dir=root)
    with locked(root):
        procs = _writers(root, base, workers=2, count=1, start=time.time())
        time.sleep(2.0)  # long enough for both to reach the lock
        assert all(p.poll() is None for p in procs) and list_artifacts(root=root) == []
    for proc in procs:
        _out, err = proc.communicate(timeout=60)
        assert proc.returncode == 0, err
    assert sorted(e.name for e in list_artifacts(root=root)) == ["w0-0", "w1-0"]

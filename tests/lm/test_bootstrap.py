"""The bootstrap tokenizer and model: byte-exact tokenizer, quick deterministic training, loadable output."""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import torch
from transformers import AutoTokenizer

from services.common.settings import get_settings, get_verifier_settings
from services.lm import bootstrap as bootstrap_mod
from services.lm.bootstrap import (
    BOOTSTRAP_VERSION,
    DEFAULT_STEPS,
    DEFAULT_THREADS,
    MARKER_FILE,
    BootstrapReport,
    bootstrap_model,
    default_model_dir,
    ensure_bootstrap_model,
    is_built,
)
from services.lm.model import load_model
from services.lm.tokenizer import train_tokenizer
from services.tasks import generate_tasks, training_text

QUICK = {"seed": 3, "n_tasks": 2000, "max_steps": 30, "progress": None}
MARKER = json.dumps({"version": BOOTSTRAP_VERSION})


@pytest.fixture(scope="module")
def tokenizer() -> Any:
    return train_tokenizer([training_text(t) for t in generate_tasks(1500, seed=0)])


@pytest.fixture(scope="module")
def quick_build(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Path, BootstrapReport, float]]:
    out = tmp_path_factory.mktemp("bootstrap") / "model"
    started = time.perf_counter()
    report = bootstrap_model(out, log=lambda _: None, **QUICK)  # type: ignore[arg-type]
    yield out, report, time.perf_counter() - started


def test_tokenizer_round_trip(tokenizer: Any) -> None:
    assert len(tokenizer) == 512
    texts = [training_text(t) for t in generate_tasks(200, seed=77)]
    texts += ["int f(int a , int b) {\n\treturn a+b ;  }\n", "s == \"\\t\" && c != '\\n'; // ünïcödé ✓", ""]
    for text in texts:
        ids = tokenizer(text, add_special_tokens=False)["input_ids"]
        assert tokenizer.decode(ids) == text
    assert tokenizer("int x;")["input_ids"][0] == tokenizer.bos_token_id  # bos in front, like Llama


def test_special_tokens(tokenizer: Any) -> None:
    assert (tokenizer.bos_token, tokenizer.eos_token, tokenizer.pad_token) == ("<s>", "</s>", "<pad>")
    ids = {t: tokenizer.convert_tokens_to_ids(t) for t in ("<s>", "</s>", "<pad>", "<think>", "</think>")}
    assert len(set(ids.values())) == 5
    for tok in ("<think>", "</think>"):
        assert tokenizer(tok, add_special_tokens=False)["input_ids"] == [ids[tok]]
    mixed = tokenizer("a<think>plan</think>int x;", add_special_tokens=False)["input_ids"]
    assert mixed.count(ids["<think>"]) == 1 and mixed.count(ids["</think>"]) == 1


def test_prompt_ends_on_a_token_boundary(tokenizer: Any) -> None:
    """The DESIGN pitfall: the prompt's tokens must be a prefix of the training text's tokens."""
    for task in generate_tasks(300, seed=21):
        prompt_ids = tokenizer(task.prompt)["input_ids"]
        full_ids = tokenizer(training_text(task))["input_ids"]
        assert full_ids[: len(prompt_ids)] == prompt_ids, task.prompt


def test_quick_bootstrap(quick_build: tuple[Path, BootstrapReport, float]) -> None:
    out, report, _seconds = quick_build
    assert report.steps == 30 and report.max_steps == 30
    assert 500_000 < report.params < 2_000_000
    assert report.final_loss < 6.0
    marker = json.loads((out / MARKER_FILE).read_text())
    for key in ("seed", "steps", "final_loss", "params", "train_seconds", "corpus_size", "version", "num_threads"):
        assert key in marker
    assert marker["version"] == BOOTSTRAP_VERSION and marker["num_threads"] == DEFAULT_THREADS and is_built(out)
    assert marker["steps"] == 30 and marker["seed"] == QUICK["seed"] and marker["corpus_size"] == 2000
    # the saved tokenizer reloads byte-exact with its special tokens
    tok = AutoTokenizer.from_pretrained(str(out), local_files_only=True)
    assert tok.decode(tok("x = a  +\n  b;", add_special_tokens=False)["input_ids"]) == "x = a  +\n  b;"
    assert len(tok("<think>", add_special_tokens=False)["input_ids"]) == 1


def test_saved_model_loads_and_generates(quick_build: tuple[Path, BootstrapReport, float]) -> None:
    out, _, _ = quick_build
    loaded = load_model(out)
    assert loaded.device.type in ("cpu", "cuda")
    assert loaded.tokenizer.padding_side == "left"
    assert not loaded.model.training
    prompts = [t.prompt for t in generate_tasks(3, seed=99)]
    enc = loaded.tokenizer(prompts, return_tensors="pt", padding=True).to(loaded.device)
    with torch.inference_mode():
        gen = loaded.model.generate(**enc, do_sample=True, max_new_tokens=12, top_k=0, temperature=1.0)
    assert gen.shape[0] == 3 and gen.shape[1] > enc["input_ids"].shape[1]
    texts = loaded.tokenizer.batch_decode(gen[:, enc["input_ids"].shape[1] :], skip_special_tokens=True)
    assert all(isinstance(t, str) for t in texts) and any(t for t in texts)


def test_same_seed_same_weights(quick_build: tuple[Path, BootstrapReport, float], tmp_path: Path) -> None:
    from safetensors.torch import load_file

    out, report, _ = quick_build
    again = bootstrap_model(tmp_path / "again", log=lambda _: None, **QUICK)  # type: ignore[arg-type]
    assert again.final_loss == report.final_loss
    first, second = load_file(str(out / "model.safetensors")), load_file(str(tmp_path / "again" / "model.safetensors"))
    assert first.keys() == second.keys()
    for name in first:
        assert torch.equal(first[name], second[name]), name
    assert (out / "tokenizer.json").read_text() == (tmp_path / "again" / "tokenizer.json").read_text()


def test_bad_arguments(tmp_path: Path) -> None:
    with pytest.raises(ValueError):
        bootstrap_model(tmp_path / "m", max_steps=0, log=lambda _: None)
    with pytest.raises(ValueError):
        bootstrap_model(tmp_path / "m", train_seconds=0, log=lambda _: None)
    with pytest.raises(ValueError, match="not both"):
        bootstrap_model(tmp_path / "m", max_steps=10, train_seconds=5.0, log=lambda _: None)
    with pytest.raises(ValueError, match="num_threads"):
        bootstrap_model(tmp_path / "m", num_threads=0, log=lambda _: None)
    assert not (tmp_path / "m").exists()


def test_default_is_a_fixed_step_count_on_fixed_threads(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    plans: list[Any] = []
    monkeypatch.setattr(bootstrap_mod, "_bootstrap", lambda *args: plans.append(args[4]))
    bootstrap_model(tmp_path / "m", log=lambda _: None)
    bootstrap_model(tmp_path / "m", train_seconds=7.0, log=lambda _: None)
    assert (plans[0].max_steps, plans[0].train_seconds, plans[0].num_threads) == (DEFAULT_STEPS, None, DEFAULT_THREADS)
    assert (plans[1].max_steps, plans[1].train_seconds) == (None, 7.0)
    assert 900 <= DEFAULT_STEPS <= 1100  # the README's model: ~974 steps, ~47% held-out compile rate


def test_default_model_dir_follows_cppforge_home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    # default_model_dir reads the cached base settings: clear that cache on the way in AND out, or every
    # later caller of ensure_bootstrap_model() would build a fresh model under this test's tmp home.
    monkeypatch.setenv("CPPFORGE_HOME", str(tmp_path / "home"))
    get_settings.cache_clear()
    get_verifier_settings.cache_clear()
    try:
        assert default_model_dir() == (tmp_path / "home").resolve() / "models" / "bootstrap"
    finally:
        monkeypatch.undo()
        get_settings.cache_clear()
        get_verifier_settings.cache_clear()


def test_ensure_builds_once(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    calls: list[Path] = []

    def fake_build(out_dir: Path, **kwargs: Any) -> None:
        calls.append(out_dir)
        time.sleep(0.3)  # long enough for the other caller to queue on the lock
        (out_dir / "config.json").write_text("{}")
        (out_dir / MARKER_FILE).write_text(MARKER)

    monkeypatch.setattr(bootstrap_mod, "bootstrap_model", fake_build)
    target = tmp_path / "models" / "bootstrap"
    results: list[Path] = []
    threads = [
        threading.Thread(target=lambda: results.append(ensure_bootstrap_model(target, log=lambda _: None)))
        for _ in range(3)
    ]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert results == [target] * 3
    assert len(calls) == 1 and calls[0] != target  # built aside, then renamed into place
    assert (target / MARKER_FILE).is_file()
    assert [p.name for p in target.parent.iterdir() if p.name.startswith(".bootstrap-build")] == []
    assert ensure_bootstrap_model(target, log=lambda _: None) == target and len(calls) == 1


def test_ensure_replaces_an_incomplete_build(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    def fake_build(out_dir: Path, **kwargs: Any) -> None:
        (out_dir / MARKER_FILE).write_text(MARKER)

    monkeypatch.setattr(bootstrap_mod, "bootstrap_model", fake_build)
    target = tmp_path / "bootstrap"
    target.mkdir()
    (target / "partial.bin").write_text("x")  # a crashed build: no marker
    assert ensure_bootstrap_model(target, log=lambda _: None) == target
    assert (target / MARKER_FILE).is_file() and not (target / "partial.bin").exists()


def test_ensure_rebuilds_an_older_version(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    calls: list[dict[str, Any]] = []

    def fake_build(out_dir: Path, **kwargs: Any) -> None:
        calls.append(kwargs)
        (out_dir / MARKER_FILE).write_text(MARKER)

    monkeypatch.setattr(bootstrap_mod, "bootstrap_model", fake_build)
    target = tmp_path / "bootstrap"
    target.mkdir()
    (target / MARKER_FILE).write_text(json.dumps({"version": "1"}))  # a 120 s wall-clock model
    (target / "model.safetensors").write_text("old")
    assert not is_built(target)
    assert ensure_bootstrap_model(target, log=lambda _: None) == target
    assert is_built(target) and not (target / "model.safetensors").exists()
    assert calls == [{"seed": 0, "max_steps": DEFAULT_STEPS, "num_threads": DEFAULT_THREADS, "log": calls[0]["log"]}]


def test_ensure_cleans_up_after_a_failed_build(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    def failing_build(out_dir: Path, **kwargs: Any) -> None:
        raise RuntimeError("out of memory")

    monkeypatch.setattr(bootstrap_mod, "bootstrap_model", failing_build)
    target = tmp_path / "bootstrap"
    with pytest.raises(RuntimeError):
        ensure_bootstrap_model(target, log=lambda _: None)
    assert not target.exists()
    assert [p.name for p in tmp_path.iterdir() if not p.name.endswith(".lock")] == []


def test_ensure_marker_names_the_final_dir_not_the_staging_one(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    def fake_build(out_dir: Path, **kwargs: Any) -> None:
        (out_dir / MARKER_FILE).write_text(json.dumps({"version": BOOTSTRAP_VERSION, "out_dir": str(out_dir)}))

    monkeypatch.setattr(bootstrap_mod, "bootstrap_model", fake_build)
    target = tmp_path / "bootstrap"
    assert ensure_bootstrap_model(target, log=lambda _: None) == target
    assert json.loads((target / MARKER_FILE).read_text())["out_dir"] == str(target)

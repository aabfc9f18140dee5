"""Proxy honesty: flagged figures, no weak proxy over a better one, no proxy of another model.

Synthetic data (corpus functions that compile and broken copies that do not, labelled by
construction as in conftest's fixture) keeps these fast; one test runs the real `train-proxy`.
"""

from __future__ import annotations

import json
import logging
import random
from pathlib import Path

import httpx
import pytest

from services.common.settings import InferenceSettings, get_settings
from services.inference.app import create_app
from services.inference.proxy import MANIFEST_NAME, ProxyClassifier, ProxyModelMismatchError
from services.inference.proxy.honesty import MIN_PER_CLASS, ProxyNotReplacedError, judge, quality
from services.inference.proxy.training import save_checked, train_and_judge
from services.lm.model import LoadedModel
from services.tasks import generate_tasks
from services.trainer.registry import model_content_hash
from tests.helpers.servers import serve
from tests.inference.conftest import _break


def dataset(n_good: int, n_bad: int, seed: int = 5) -> tuple[list[str], list[bool]]:
    rng = random.Random(seed)
    tasks = generate_tasks(max(n_good, n_bad), seed=seed)
    texts = [t.code for t in tasks[:n_good]] + [_break(t.code, rng) for t in tasks[:n_bad]]
    return texts, [True] * n_good + [False] * n_bad


@pytest.fixture(scope="module")
def sound() -> ProxyClassifier:
    return train_and_judge(*dataset(60, 60), log=lambda _: None)


@pytest.fixture(scope="module")
def weak() -> ProxyClassifier:
    """A weak model's data: two compiling samples among 60 (accuracy on them is luck)."""
    return train_and_judge(*dataset(2, 60), log=lambda _: None)


def test_judge_names_both_reasons() -> None:
    assert judge(n_positive=50, n_samples=100, held_out_accuracy=0.9, majority_baseline=0.5) == []
    no_lift = judge(n_positive=970, n_samples=1000, held_out_accuracy=0.95, majority_baseline=0.97)
    assert len(no_lift) == 1 and "no better than the majority baseline 0.970" in no_lift[0]
    few = judge(n_positive=2, n_samples=100, held_out_accuracy=1.0, majority_baseline=0.96)
    assert len(few) == 1 and "2 compiling and 98 not" in few[0] and f"at least {MIN_PER_CLASS} of each" in few[0]
    assert len(judge(n_positive=0, n_samples=0, held_out_accuracy=float("nan"), majority_baseline=1.0)) == 2


def test_train_and_judge_records_the_figures_and_warnings(sound: ProxyClassifier, weak: ProxyClassifier) -> None:
    assert sound.metadata["warnings"] == []
    assert sound.metadata["held_out"]["accuracy"] > sound.metadata["majority_baseline"]
    assert quality(sound.metadata) == (True, pytest.approx(sound.metadata["held_out"]["accuracy"] - 0.5))
    assert any("too few samples of one class" in w for w in weak.metadata["warnings"])
    assert quality(weak.metadata) is not None and quality(weak.metadata)[0] is False  # type: ignore[index]


def test_weak_proxy_is_written_first_but_never_over_a_better_one(
    sound: ProxyClassifier, weak: ProxyClassifier, tmp_path: Path
) -> None:
    said: list[str] = []
    first = tmp_path / "first"
    save_checked(weak, first, warn=said.append)  # no proxy yet: written, with its warning said
    assert (first / MANIFEST_NAME).is_file() and any("too few samples" in w for w in said)

    out = tmp_path / "proxy"
    save_checked(sound, out, warn=said.append)
    before = (out / MANIFEST_NAME).read_text()
    with pytest.raises(ProxyNotReplacedError, match=r"not replacing the proxy at .*--force"):
        save_checked(weak, out, warn=said.append)
    assert (out / MANIFEST_NAME).read_text() == before
    save_checked(weak, out, force=True, warn=said.append)
    assert json.loads((out / MANIFEST_NAME).read_text())["metadata"]["warnings"] == weak.metadata["warnings"]
    save_checked(sound, out, warn=said.append)  # a sound proxy always replaces


def test_load_refuses_a_proxy_of_another_model(sound: ProxyClassifier, tmp_path: Path) -> None:
    clf = ProxyClassifier(sound.weights, sound.bias, sound.config, {**sound.metadata, "model_sha256": "a" * 64})
    clf.save(tmp_path / "p")
    assert ProxyClassifier.load(tmp_path / "p", model_sha256="a" * 64).model_sha256 == "a" * 64
    with pytest.raises(ProxyModelMismatchError, match=r"another model .*aaaaaaaaaaaa.*bbbbbbbbbbbb"):
        ProxyClassifier.load(tmp_path / "p", model_sha256=lambda: "b" * 64)
    assert ProxyClassifier.load(tmp_path / "p").model_sha256 == "a" * 64  # no served hash given: not checked


def test_an_old_proxy_without_a_hash_loads_with_a_warning(
    tiny_proxy_dir: Path, caplog: pytest.LogCaptureFixture
) -> None:
    def never() -> str:
        raise AssertionError("the served model is hashed only when the proxy records a hash")

    with caplog.at_level(logging.WARNING, logger="services.inference.proxy.classifier"):
        clf = ProxyClassifier.load(tiny_proxy_dir, model_sha256=never)
    assert clf.model_sha256 is None and "records no model hash" in caplog.text


def test_service_runs_without_a_proxy_of_another_model(
    sound: ProxyClassifier, tiny_model: LoadedModel, tmp_path: Path
) -> None:
    served = model_content_hash(tiny_model.path, cache_dir=tmp_path / "registry")
    for sha, expected in (("0" * 64, False), (served, True)):
        path = tmp_path / f"proxy-{expected}"
        ProxyClassifier(sound.weights, sound.bias, sound.config, {**sound.metadata, "model_sha256": sha}).save(path)
        settings = InferenceSettings(
            model=str(tiny_model.path), proxy_path=path, registry_dir=tmp_path / "registry", api_keys=None
        )
        with serve(create_app(settings, tiny_model)) as url:
            health = httpx.get(url + "/healthz").json()
        assert health["proxy"] is expected, health
        if expected:
            assert health["proxy_reason"] is None
        else:
            assert "another model" in health["proxy_reason"] and "cppforge train-proxy" in health["proxy_reason"]


def test_train_proxy_cli_warns_and_keeps_a_better_proxy(
    sound: ProxyClassifier,
    tiny_model_dir: Path,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
    request: pytest.FixtureRequest,
) -> None:
    """The real command on the tiny model: its handful of samples is flagged on stderr, and the flagged
    proxy is refused (exit 2, naming --force) over a better one (a first one is written: see above)."""
    from services.cli import main

    # the model's hash is cached under the registry root: this test's, not the user's
    monkeypatch.setenv("CPPFORGE_REGISTRY_DIR", str(tmp_path / "registry"))
    get_settings.cache_clear()
    request.addfinalizer(get_settings.cache_clear)
    better = tmp_path / "better"
    sound.save(better)
    kept = (better / MANIFEST_NAME).read_text()
    args = ["train-proxy", "--model", str(tiny_model_dir), "--prompts", "2", "--per-prompt", "2", "--out", str(better)]
    assert main(args) == 2
    err = capsys.readouterr().err
    assert "cppforge: WARNING: too few samples of one class" in err
    assert f"not replacing the proxy at {better}" in err and "--force" in err
    assert (better / MANIFEST_NAME).read_text() == kept
    assert (tmp_path / "registry" / "model_hashes.json").is_file()


def test_refusal_compares_recorded_figures(sound: ProxyClassifier, tmp_path: Path) -> None:
    from services.inference.proxy.honesty import replacement_refusal

    sound.save(tmp_path / "p")
    no_figures = {"warnings": ["held-out accuracy nan ..."], "held_out": {"accuracy": None}}
    assert "pass --force" in (replacement_refusal(tmp_path / "p", no_figures) or "")
    flagged_but_better = {**sound.metadata, "warnings": ["x"], "n_positive": 10, "n_samples": 1000}
    assert replacement_refusal(tmp_path / "p", flagged_but_better) is not None  # weak (10 < 20) loses to sound
    assert replacement_refusal(tmp_path / "missing", no_figures) is None  # nothing to keep: written
    ProxyClassifier(sound.weights, sound.bias, sound.config, {}).save(tmp_path / "bare")
    assert replacement_refusal(tmp_path / "bare", no_figures) is None  # nothing recorded: not "better"

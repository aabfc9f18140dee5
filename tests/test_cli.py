"""`cppforge verify` as a new user would try it: real subprocess, real files."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

PROG = """#include <vector>
using namespace std;
int total(vector<int> v) {
    int s = 0;
    for (int x : v) s += x;
    return s;
}
"""
TEST = """#undef NDEBUG
#include <assert.h>
int main() {
    assert(total({1, 2, 3}) == 6);
    assert(total({}) == 0);
}
"""


def run_cli(*args: str, cwd: Path, stdin: str | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "services.cli", *args], capture_output=True, text=True, cwd=cwd, timeout=120,
        env={"PATH": "/usr/bin:/bin", "PYTHONPATH": str(Path(__file__).resolve().parents[1])}, input=stdin,
    )  # fmt: skip


@pytest.fixture
def files(tmp_path: Path) -> Path:
    (tmp_path / "prog.cpp").write_text(PROG)
    (tmp_path / "test.cpp").write_text(TEST)
    (tmp_path / "empty.cpp").write_text("  \n")
    return tmp_path


def test_verify_json_passes(files: Path) -> None:
    out = run_cli("verify", "prog.cpp", "--test", "test.cpp", "--json", cwd=files)
    assert out.returncode == 0, out.stderr
    doc = json.loads(out.stdout)
    assert doc["tests_passed"] == doc["tests_total"] == 1
    assert doc["reward"] == 1.0
    assert doc["error_class"] == "none"


def test_verify_human_output_and_flag_form(files: Path) -> None:
    out = run_cli("verify", "prog.cpp", "--test", "test.cpp", "--flag", "-O2", "--std", "c++20", cwd=files)
    assert out.returncode == 0, out.stderr
    assert "tests:   1/1 passed" in out.stdout and "reward:  1.000" in out.stdout


def test_verify_reads_the_source_or_the_test_from_stdin(files: Path) -> None:
    out = run_cli("verify", "-", "--test", "test.cpp", cwd=files, stdin=PROG)
    assert out.returncode == 0, out.stderr
    assert "tests:   1/1 passed" in out.stdout
    out = run_cli("verify", "prog.cpp", "--test", "-", cwd=files, stdin=TEST)
    assert out.returncode == 0 and "tests:   1/1 passed" in out.stdout, out.stderr
    both = run_cli("verify", "-", "--test", "-", cwd=files, stdin=PROG)
    assert both.returncode == 2 and "only one of the source and --test" in both.stderr
    empty = run_cli("verify", "-", cwd=files, stdin=" \n")
    assert empty.returncode == 2 and "source read from stdin is empty" in empty.stderr


def test_version_is_the_package_version(files: Path) -> None:
    from services.version import pyproject_version

    expected = pyproject_version(Path(__file__).resolve().parents[1] / "pyproject.toml")
    out = run_cli("--version", cwd=files)
    assert out.returncode == 0 and out.stdout.strip() == f"cppforge {expected}", out


def test_pyproject_version_reads_the_project_table(tmp_path: Path) -> None:
    from services.version import pyproject_version

    doc = tmp_path / "pyproject.toml"
    doc.write_text('[tool.x]\nversion = "9"\n\n[project]\nname = "p"\nversion = "1.2.3"\n\n[tool.y]\nversion = "8"\n')
    assert pyproject_version(doc) == "1.2.3"
    doc.write_text('[project]\nname = "p"\n[tool.y]\nversion = "8"\n')
    assert pyproject_version(doc) is None
    assert pyproject_version(tmp_path / "missing.toml") is None


def test_version_falls_back_to_pyproject_when_not_installed(monkeypatch: pytest.MonkeyPatch) -> None:
    from importlib import metadata

    from services import version

    def not_installed(name: str) -> str:
        raise metadata.PackageNotFoundError(name)

    monkeypatch.setattr(version.metadata, "version", not_installed)
    pyproject = Path(__file__).resolve().parents[1] / "pyproject.toml"
    assert version.package_version() == version.pyproject_version(pyproject)


def test_human_output_counts_warnings_and_says_timed_out(files: Path, capsys: pytest.CaptureFixture[str]) -> None:
    from services.cli import main

    (files / "warn.cpp").write_text('#include <cstdio>\nint main() { int unused; std::puts("hi"); }\n')
    (files / "loop.cpp").write_text("int main() { volatile int x = 0; while (true) x++; }\n")
    assert main(["verify", str(files / "warn.cpp")]) == 0
    assert "(1 warning," in capsys.readouterr().out
    assert main(["verify", str(files / "loop.cpp"), "--timeout", "0.5"]) == 0
    out = capsys.readouterr().out
    assert "run:     FAILED (timed out after 0.5s)" in out and "exit None" not in out, out


def test_failing_code_still_exits_zero(files: Path) -> None:
    (files / "bad.cpp").write_text("int main() { return undefined_name; }\n")
    out = run_cli("verify", "bad.cpp", "--json", cwd=files)
    assert out.returncode == 0
    doc = json.loads(out.stdout)
    assert doc["compile_ok"] is False and doc["error_class"] == "undeclared"
    assert doc["diagnostics"][0]["line"] == 1


@pytest.mark.parametrize(
    ("args", "needle"),
    [
        (("verify", "missing.cpp"), "not found"),
        (("verify", "prog.cpp", "--test", "nope.cpp"), "not found"),
        (("verify", "empty.cpp"), "empty"),
        (("verify", "prog.cpp", "--flag", "-fplugin=/tmp/x.so"), "-fplugin"),
        (("verify", "prog.cpp", "--std", "c++98"), "c++98"),
        (("verify", "prog.cpp", "--timeout", "0"), "timeout"),
        (("verify", "prog.cpp", "--timeout", "abc"), "invalid float"),
        (("verify",), "required"),
        (("frobnicate",), "invalid choice"),
        (("bootstrap-model", "--out", "m", "--steps", "10", "--seconds", "5"), "exclude each other"),
        (("bootstrap-model", "--out", "m", "--steps", "0"), "--steps"),
        (("bootstrap-model", "--out", "m", "--seconds", "0"), "--seconds"),
        (("bootstrap-model", "--out", "m", "--threads", "0"), "--threads"),
    ],
)
def test_bad_input_is_one_line_exit_2(files: Path, args: tuple[str, ...], needle: str) -> None:
    out = run_cli(*args, cwd=files)
    assert out.returncode == 2
    lines = out.stderr.strip().splitlines()
    assert len(lines) == 1, out.stderr
    assert "Traceback" not in out.stderr
    assert needle in lines[0]
    assert lines[0].startswith("cppforge: error:")


def test_serve_with_a_bad_setting_is_one_line_exit_2(tmp_path: Path) -> None:
    out = subprocess.run(
        [sys.executable, "-m", "services.cli", "serve", "verifier"], capture_output=True, text=True, cwd=tmp_path,
        env={"PATH": "/usr/bin:/bin", "PYTHONPATH": str(Path(__file__).resolve().parents[1]),
             "CPPFORGE_VERIFIER_PORT": "abc"}, timeout=120,
    )  # fmt: skip
    assert out.returncode == 2, out.stderr
    assert out.stderr.count("\n") == 1 and "Traceback" not in out.stderr
    assert out.stderr.startswith("cppforge: error: bad verifier settings: CPPFORGE_VERIFIER_PORT='abc': input should")
    assert "fix CPPFORGE_VERIFIER_PORT or unset it for the default 8001" in out.stderr


def test_serve_help_gives_each_service_its_own_default_port(tmp_path: Path) -> None:
    out = run_cli("serve", "--help", cwd=tmp_path)
    assert out.returncode == 0
    assert "else verifier 8001, inference 8002, trainer 8003" in " ".join(out.stdout.split())


@pytest.mark.parametrize(
    ("env", "needle"),
    [({"CPPFORGE_TRAINER_PORT": "abc"}, "CPPFORGE_TRAINER_PORT='abc'"), ({"CPPFORGE_API_KEYS": "k:gold"}, "k:gold")],
)
def test_serve_trainer_with_a_bad_setting_exits_2(tmp_path: Path, env: dict[str, str], needle: str) -> None:
    out = subprocess.run(
        [sys.executable, "-m", "services.cli", "serve", "trainer"], capture_output=True, text=True, cwd=tmp_path,
        env={"PATH": "/usr/bin:/bin", "PYTHONPATH": str(Path(__file__).resolve().parents[1]), **env}, timeout=120,
    )  # fmt: skip
    assert out.returncode == 2, out.stderr
    assert "Traceback" not in out.stderr and needle in out.stderr and "bad trainer settings" in out.stderr
    assert out.stderr.count("\n") == 1


def test_serve_trainer_answers_and_stops_on_sigterm(tmp_path: Path) -> None:
    import signal
    import time

    import httpx

    from tests.helpers.servers import free_port, spawn_serve

    port, log = free_port(), tmp_path / "serve.log"
    env = {"PATH": "/usr/bin:/bin", "PYTHONPATH": str(Path(__file__).resolve().parents[1])}
    env["CPPFORGE_HOME"] = str(tmp_path / "home")
    proc = spawn_serve("trainer", port, env=env, log=log, cwd=tmp_path)
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                if httpx.get(f"http://127.0.0.1:{port}/readyz", timeout=1).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            assert proc.poll() is None and time.monotonic() < deadline, log.read_text()
            time.sleep(0.1)
        health = httpx.get(f"http://127.0.0.1:{port}/healthz").json()
        assert health["jobs_dir"] == str(tmp_path / "home" / "trainer" / "jobs") and health["auth"] == "open"
        proc.send_signal(signal.SIGTERM)
        # uvicorn shuts down gracefully (the lifespan closes the runner), then re-raises the signal
        assert proc.wait(timeout=30) in (0, -signal.SIGTERM)
        text = log.read_text()
        assert "Application shutdown complete" in text and "Traceback" not in text
        assert "no CPPFORGE_API_KEYS set: trainer serving open" in text
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()


def test_bootstrap_model_if_missing_keeps_a_built_model(tmp_path: Path) -> None:
    from services.lm.bootstrap import BOOTSTRAP_VERSION, MARKER_FILE

    built = tmp_path / "model"
    built.mkdir()
    (built / MARKER_FILE).write_text(json.dumps({"version": BOOTSTRAP_VERSION}))
    out = run_cli("bootstrap-model", "--if-missing", "--out", str(built), cwd=tmp_path)
    assert out.returncode == 0 and "already built" in out.stdout
    assert sorted(p.name for p in built.iterdir()) == [MARKER_FILE]  # nothing trained, nothing replaced
    refused = run_cli("bootstrap-model", "--if-missing", "--seconds", "5", "--out", str(tmp_path / "m2"), cwd=tmp_path)
    assert refused.returncode == 2 and "--if-missing" in refused.stderr


def test_bootstrap_model_keeps_an_existing_model_without_force(tmp_path: Path) -> None:
    from services.lm.bootstrap import BOOTSTRAP_VERSION, MARKER_FILE

    built = tmp_path / "model"
    built.mkdir()
    (built / MARKER_FILE).write_text(json.dumps({"version": BOOTSTRAP_VERSION}))
    out = run_cli("bootstrap-model", "--out", str(built), "--steps", "1", cwd=tmp_path)
    lines = out.stderr.strip().splitlines()
    assert out.returncode == 2 and len(lines) == 1, out.stderr
    assert str(built) in lines[0] and "--force" in lines[0]
    assert sorted(p.name for p in built.iterdir()) == [MARKER_FILE]
    (tmp_path / "notes").mkdir()
    (tmp_path / "notes" / "todo.txt").write_text("mine")
    out = run_cli("bootstrap-model", "--out", str(tmp_path / "notes"), "--force", cwd=tmp_path)
    assert out.returncode == 2 and "holds no model" in out.stderr  # never deletes a dir that is not a model
    out = run_cli("bootstrap-model", "--out", str(built), "--force", "--if-missing", cwd=tmp_path)
    assert out.returncode == 2 and "exclude each other" in out.stderr


def test_bootstrap_model_force_replaces_and_names_the_final_dir(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from services.cli import main
    from services.lm.bootstrap import MARKER_FILE, BootstrapReport, is_built

    built = tmp_path / "model"
    built.mkdir()
    (built / "config.json").write_text("{}")  # an old model
    (built / "stale.bin").write_text("old")
    assert main(["bootstrap-model", "--out", str(built), "--force", "--steps", "2", "--tasks", "300"]) == 0
    captured = capsys.readouterr()
    assert captured.out.splitlines()[0] == f"bootstrap model saved to {built}", captured.out
    assert "2 steps on 1 thread(s)" in captured.out and "parameters" in captured.out
    assert "BootstrapReport(" not in captured.out and "-build-" not in captured.out + captured.err
    assert is_built(built) and not (built / "stale.bin").exists()
    assert json.loads((built / MARKER_FILE).read_text())["out_dir"] == str(built)  # not the staging dir
    recorded = BootstrapReport.read(built)  # what --if-missing prints after building
    assert recorded is not None and recorded.summary() == captured.out.strip()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["model"]  # no staging or old dir left behind

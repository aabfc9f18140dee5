"""The build reads the debug information from one `readelf --debug-dump=info,line` through one c++filt;
debug_check.split_dump must hand the checks exactly the texts the former per-section commands wrote
(`readelf --debug-dump=info | c++filt`, `readelf --debug-dump=line | sed '/Line Number Statements/q'`)."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

from services.verifier.core.debug_check import DumpLayoutError, candidate_functions, split_dump

from .test_integrity_debug_info import WRITTEN_ELSEWHERE

SOURCES = {
    "plain": "#include <vector>\nint f(std::vector<int> v) { return v.size(); }\nint main() { return f({1}); }\n",
    **{
        name: f'#include <string>\n#line 1 "solution.cpp"\n{body}int main() {{ return std::string("a") == "b"; }}\n'
        for name, body in WRITTEN_ELSEWHERE.items()
    },
    "templates_and_lambdas": (
        "#include <map>\n#include <algorithm>\n#include <string>\n"
        "template <class T> T twice(T x) { return x + x; }\n"
        'int main() { std::map<std::string, int> m{{"a", 1}}; auto l = [](int x) { return twice(x); };\n'
        '  return l(m["a"]) + twice(1.5) > 0 ? 0 : 1; }\n'
    ),
    # No function at all: an object without .debug_info or .debug_line (readelf prints only a notice).
    "no_functions": "struct S { int a; };\nextern int y;\n",
}
FLAGS = ([], ["-O2"], ["-g3"], ["-O3", "-g"])


def _sh(command: str, cwd: Path) -> str:
    out = subprocess.run(command, shell=True, cwd=cwd, capture_output=True, check=True)
    # As Path.read_text sees a file: universal newlines.
    return out.stdout.decode(errors="replace").replace("\r\n", "\n").replace("\r", "\n")


@pytest.mark.parametrize("flags", FLAGS, ids=lambda f: " ".join(f) or "default")
@pytest.mark.parametrize("name", sorted(SOURCES))
def test_split_dump_gives_the_former_texts_byte_for_byte(name: str, flags: list[str], tmp_path: Path) -> None:
    (tmp_path / "tu.cpp").write_text(SOURCES[name])
    cmd = ["g++", "-std=c++17", "-fkeep-static-functions", *flags, "-g1", "-c", "tu.cpp", "-o", "t.o"]
    subprocess.run(cmd, cwd=tmp_path, check=True, capture_output=True)
    old_info = _sh("readelf -W --debug-dump=info t.o | c++filt", tmp_path)
    old_files = _sh("readelf -W --debug-dump=line t.o | sed '/Line Number Statements/q'", tmp_path)
    raw = _sh("readelf -W --debug-dump=info,line t.o", tmp_path)
    demangled = _sh("readelf -W --debug-dump=info,line t.o | c++filt", tmp_path)
    info, files = split_dump(raw, demangled)
    assert info == old_info
    assert files == old_files
    assert candidate_functions(info, files) == candidate_functions(old_info, old_files)


def test_an_unexpected_layout_is_an_error_not_a_guess() -> None:
    with pytest.raises(DumpLayoutError):
        split_dump("Raw dump of debug contents of section .debug_line:\n", "")
    with pytest.raises(DumpLayoutError):
        split_dump("Contents of the .debug_info section:\n\n", "Contents of the .debug_info section:\n\n")
    raw = "Contents of the .debug_info section:\n x\nRaw dump of debug contents of section .debug_line:\n"
    with pytest.raises(DumpLayoutError):  # c++filt output that does not line up with readelf's
        split_dump(raw, "Contents of the .debug_info section:\nRaw dump of debug contents of section .debug_line:\n")


def test_code_without_functions_compiles_as_before() -> None:
    """A found regression of the one-readelf build: an object without debug sections was an infra error."""
    from services.verifier.core.verify import verify_cpp

    for code in ("struct S { int a; };\n", "extern int y;\n"):
        result = verify_cpp(code, return_structured=True)
        assert result.compile_ok and result.infra_error is None and result.error_class == "none"

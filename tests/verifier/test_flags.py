"""The extra_flags allowlist and std checks."""

from __future__ import annotations

import pytest

from services.verifier.core.flags import MAX_FLAG_CHARS, MAX_FLAGS, link_flags, validate_flags, validate_std
from services.verifier.core.verify import verify_cpp


@pytest.mark.parametrize(
    "flags",
    [
        ["-O2"],
        ["-O0", "-g"],
        ["-DN=10", "-DDEBUG"],
        ["-Wno-unused-variable"],
        ["-pthread"],
        ["-fsanitize=address,undefined", "-fno-omit-frame-pointer"],
        ["-Iinclude", "-I."],
        ["-lcrypto", "-lssl"],
    ],
)
def test_allowed_flags_pass(flags: list[str]) -> None:
    assert validate_flags(flags) == tuple(flags)


@pytest.mark.parametrize(
    "flag",
    [
        "-o",
        "-B/tmp",
        "@/etc/passwd",
        "-fplugin=/tmp/x.so",
        "-wrapper",
        "--sysroot=/",
        "-I/etc",
        "-I../..",
        "-Iinc/../../etc",
        "-include",
        "-specs=/tmp/s",
        "-std=c++20",
        "-Wl,--wrap=exit",
        "-fsanitize=thread",
        "-x",
        "-L/tmp",
        "-lfoo",
        "-l",
        "-lcrypto.so",
        "-l/usr/lib/x86_64-linux-gnu/libcrypto.so",
    ],
)
def test_refused_flag_is_named(flag: str) -> None:
    with pytest.raises(ValueError) as info:
        validate_flags(["-O2", flag])
    assert repr(flag) in str(info.value)


@pytest.mark.parametrize("flags", [["-I"], ["-I", "-O2"], ["-O2", "-I", "-DX"], ["-I-"], ["-I-include"]])
def test_include_flag_needs_its_directory(flags: list[str]) -> None:
    """A bare -I would take the next argument of the g++ command line as its directory."""
    with pytest.raises(ValueError, match="-I"):
        validate_flags(flags)


@pytest.mark.parametrize(
    "flag",
    [
        "-Wno-cpp",
        "-Wno-pedantic",
        "-Wno-pragmas",
        "-Wno-error=cpp",
        "-Wno-error=pedantic",
        "-Wno-error=pragmas",
    ],
)
def test_diagnostics_the_verifier_relies_on_stay_on(flag: str) -> None:
    with pytest.raises(ValueError) as info:
        validate_flags(["-O2", flag])
    assert repr(flag) in str(info.value) and "relies on" in str(info.value)


@pytest.mark.parametrize("flag", ["-Wno-unused-variable", "-Wno-error=unused-variable", "-Wno-error", "-Wno-cpp-x"])
def test_other_warnings_may_still_be_turned_off(flag: str) -> None:
    assert validate_flags([flag]) == (flag,)


def test_flag_count_and_length_are_bounded() -> None:
    """The build script is one `sh -c` argument, which the kernel caps at 128 KiB."""
    assert len(validate_flags(["-O2"] * MAX_FLAGS)) == MAX_FLAGS
    with pytest.raises(ValueError, match="too many flags"):
        validate_flags(["-O2"] * (MAX_FLAGS + 1))
    assert validate_flags(["-DX=" + "1" * (MAX_FLAG_CHARS - 4)])
    with pytest.raises(ValueError, match="characters long"):
        validate_flags(["-DX=" + "1" * MAX_FLAG_CHARS])


def test_verify_refuses_before_compiling() -> None:
    with pytest.raises(ValueError, match="-fplugin"):
        verify_cpp("int main(){}", extra_flags=["-fplugin=/tmp/evil.so"])
    with pytest.raises(ValueError, match="list of flags"):
        verify_cpp("int main(){}", extra_flags="-O2")  # type: ignore[arg-type]


@pytest.mark.parametrize("std", ["c++11", "c++14", "c++17", "c++20", "gnu++17", "c++23"])
def test_std_allowed(std: str) -> None:
    assert validate_std(std) == std


@pytest.mark.parametrize("std", ["c++98", "c++17 -O2", "", "c17"])
def test_std_refused(std: str) -> None:
    with pytest.raises(ValueError, match="std"):
        validate_std(std)


@pytest.mark.parametrize("timeout", [0, -1, float("nan"), float("inf"), 1e9])
def test_bad_timeout_refused(timeout: float) -> None:
    with pytest.raises(ValueError, match="timeout"):
        verify_cpp("int main(){}", timeout=timeout)


def test_link_flags_keep_only_what_the_linker_needs() -> None:
    assert link_flags(["-O2", "-pthread", "-DX", "-fsanitize=address"]) == ["-pthread", "-fsanitize=address"]


def test_flags_reach_the_compiler() -> None:
    code = '#include <cstdio>\nint main() { std::printf("%d\\n", VALUE); return 0; }\n'
    result = verify_cpp(code, extra_flags=["-DVALUE=42"])
    assert result.run_ok and result.stdout == "42\n"


MD5 = r"""#include <openssl/md5.h>
#include <cstdio>
#include <string>
std::string md5_hex(const std::string& s) {
    unsigned char d[16];
    MD5(reinterpret_cast<const unsigned char*>(s.data()), s.size(), d);
    char out[33];
    for (int i = 0; i < 16; i++) std::snprintf(out + 2 * i, 3, "%02x", d[i]);
    return out;
}
"""
MD5_TEST = (
    '#undef NDEBUG\n#include <assert.h>\nint main(){ assert (md5_hex("") == "d41d8cd98f00b204e9800998ecf8427e"); }\n'
)


def test_an_allowed_library_is_linked_after_the_objects_and_runs() -> None:
    """HumanEval-X's CPP/162 calls OpenSSL's MD5: without -lcrypto it cannot link; with it, it runs and passes."""
    bare = verify_cpp(MD5, MD5_TEST, return_structured=True)
    assert bare.compile_ok is False and bare.error_class == "link"
    linked = verify_cpp(MD5, MD5_TEST, extra_flags=("-lcrypto",), return_structured=True)
    assert linked.compile_ok and linked.run_ok and linked.tests_passed == linked.tests_total == 1, linked
    assert "linker input file unused" not in linked.compile_output  # the library never reached the compile

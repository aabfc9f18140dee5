"""GCC's own view of the candidate's code: what the shaped reward's warnings, suppression count and
clang-tidy findings are judged on (STYLE.md point 12: judge untrusted code as GCC reads it).

Judging the raw text broke: a GNU linemarker `# 1 "x" 3` at the top marks the rest as a system header,
and GCC and clang-tidy then drop every warning and finding; `#ifdef __clang__` showed clang-tidy other
code than g++ compiled; `_Pragma(...)` and a `(void)x` behind a macro escaped a count over the raw text.

The view is `g++ -E -P` of the candidate code alone (no test code), after the verification's own
`#line 1 "solution.cpp"` and with its std and flags, in the sandbox: source on stdin from an unlinked
file, output on stdout (a file in the working directory would be visible to `__has_include`). In it:
  * no linemarker survives: `-P` drops them all, so a candidate's linemarker is consumed by GCC and
    reaches no consumer; `#if`/`#ifdef __clang__` are resolved by GCC; comments (so NOLINT) are gone;
    macros are expanded; each `_Pragma(...)` is a `#pragma` line at column 0.
  * the leading include block (source_shape.leading_block) is not inlined. With its PCH ready,
    `-fpch-preprocess -include pch.h` leaves one `#pragma GCC pch_preprocess` line in its place;
    otherwise `-imacros` of the same headers sets their macros and include guards (GCC drops their
    text, not their pragmas) and the view starts after a sentinel `-include`d next. Same view.
  * headers included anywhere later are inlined, and their text is judged as the candidate's: more
    warnings, findings and counted pragmas. That only ever lowers a reward; it cannot raise one.
    So does a view over VIEW_CAP_BYTES: it is refused (the caller charges the maximum).

GCC writes every directive it emits (pragmas) at column 0 and a macro-made `#` with a space in front,
so a column-0 `#` line is GCC's own pragma or a line inside a raw string literal. The consumers:
  * warnings: `g++ -fpreprocessed -S -Wall -Wextra` over the view (to /dev/null), after each column-0
    `#pragma GCC|clang diagnostic` line is removed (and counted, push/pop apart), any other
    `#pragma GCC pch_preprocess` is removed, any other column-0 `#`/`%:` line gets a space in front
    (never a linemarker) and `_Pragma` is renamed (GCC leaves none; one left could act unseen).
    Inside a raw string these edits change only the string's contents: nothing GCC warns about, and
    only a cheater's strings hold such lines. In front stands the PCH (our own pch_preprocess line)
    or GCC's own `-E` of the trusted headers, whose linemarkers mark them as system headers. A view
    that does not compile although the verification did is charged the maximum by the caller:
    honest code cannot get there.
  * suppressions: `(void)x`, `static_cast<void>(x)`, `void(x)`, `[[maybe_unused]]`, `unused`
    attributes, counted by regex on the view, i.e. macro-expanded and without comments. String
    literals are not told apart (no lexer of ours): a string holding such text only costs its author.
  * clang-tidy: the view with the leading headers as `#include <h>` lines, every identifier of the view
    `#undef`ed after them (so no header macro re-expands a name GCC left alone), and every line whose
    first token is `#` dropped (nothing GCC ignored, no linemarker, no pragma reaches clang).

Residual risk: the view is a second GCC run, so code that tells the two runs apart can show the judge
other code than the verification compiled (the warnings, suppressions and clang-tidy penalties only;
compile, run and tests stay the verification's). The working directory is made to look the same
(the runner object's name where the verification linked). What stays: `__DATE__`/`__TIME__` (a
guess at which second each run happens), and `__has_include` of a precompiled header's path (its
name is computable) when the verification ran without the PCH the view found ready (or the reverse).
Producing the view inside the verification's own sandboxed build would close both.
"""

from __future__ import annotations

import contextlib
import dataclasses
import os
import re
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

from .compile import RUNNER_OBJECT_NAME, ToolchainError, compile_base_command, compile_limits, unlinked_source
from .diagnostics import parse_diagnostics
from .harness import CANDIDATE_FILE
from .sandbox import NOBODY_UID, SandboxOutcome, SandboxSpec, run_sandboxed
from .source_shape import leading_block
from .verify import VerifierConfig, pch_cache, sandbox_mode
from .workdirs import workdir

# A view beyond this is refused (GCC is stopped; the caller charges the maximum). Honest code's view
# is kilobytes; a header inlined after the start of the code is most of a larger one.
VIEW_CAP_BYTES = 2 << 20
PRELUDE_CAP_BYTES = 64 << 20  # GCC's -E of the trusted headers (bits/stdc++.h: ~4 MB)
HEADER_LEFTOVERS_BYTES = 4 << 20  # what -imacros leaves of them: blank lines, pragmas (bits: ~0.5 MB)
_SENTINEL = "#pragma cppforge_view_start"
# Whole lines at column 0 (GCC's own pragmas, or lines of a raw string literal).
_DIAGNOSTIC_PRAGMA = re.compile(
    r"^#[ \t]*pragma[ \t]+(?:GCC|clang)[ \t]+diagnostic\b[ \t]*(?P<kind>\w*)[^\n]*", re.MULTILINE
)
_PCH_PRAGMA = re.compile(r"^#[ \t]*pragma[ \t]+GCC[ \t]+pch_preprocess\b[^\n]*", re.MULTILINE)
# Any other column-0 `#`/`%:` but GCC's `#pragma`: it gets a space, so it is never a linemarker.
_COLUMN0_HASH = re.compile(r"^(?=#(?!pragma\b)|%:)", re.MULTILINE)
_BLANK_LINES = re.compile(r"(?:[^\S\n]*\n)*")


@dataclass(frozen=True)
class CandidateView:
    """GCC's view of the candidate code, ready for the consumers in the module docstring."""

    text: str  # what GCC compiles after the prelude, and what the counters read
    headers: tuple[str, ...] = ()  # the leading block's headers, in order
    prelude: str = ""  # stands in for the headers: our pch_preprocess line or GCC's -E of them
    prelude_binds: tuple[Path, ...] = ()  # read-only binds the prelude needs (the PCH's directory)
    diagnostic_pragmas: int = 0  # removed `#pragma GCC|clang diagnostic` lines, push/pop apart
    failure: str | None = None  # GCC could not preprocess the code alone: the candidate's doing

    @property
    def ok(self) -> bool:
        return self.failure is None

    def suppressions(self) -> int:
        return self.diagnostic_pragmas + count_suppressions(self.text)

    def tidy_source(self) -> str:
        return tidy_source(self.text, self.headers)


# ----------------------------------------------------------------------------- pure text functions


def clean_view(raw: str) -> tuple[str, int]:
    """The text GCC compiles from its `-E -P` output, and how many diagnostic pragmas it held."""
    kinds = [m.group("kind") for m in _DIAGNOSTIC_PRAGMA.finditer(raw)]
    text = _DIAGNOSTIC_PRAGMA.sub("", raw)
    text = _PCH_PRAGMA.sub("", text)
    text = _COLUMN0_HASH.sub(" ", text)
    counted = sum(1 for kind in kinds if kind not in ("push", "pop"))
    return text.replace("_Pragma", "_Pragma_"), counted


def strip_leading_blank_lines(text: str) -> str:
    """GCC leaves whitespace-only lines where skipped includes were; the two modes differ in them only."""
    blank = _BLANK_LINES.match(text)
    return text[blank.end() :] if blank is not None else text


# The counting patterns run over whitespace-normalised text (one space at most between tokens), so
# ` ?` stands for any gap. Each starts with a literal (the regex engine then skips to it) and has no
# nested or unbounded quantifier: linear in the view's size, whatever runs of spaces or brackets a
# candidate writes.
_CV = r"(?: ?\b(?:const|volatile)\b)*"
# What may follow `(void)` in a parameter list or declarator: then it is no cast.
_NOT_AN_OPERAND = (
    r"(?! ?(?:->|(?:const|volatile|noexcept|override|final|throw|try|requires|mutable|constexpr|consteval"
    r"|asm|__asm__|__asm|__attribute__|__attribute|__restrict__|__restrict)\b))"
)
# The start of an operand worth silencing: a name or an expression, not a literal number or string.
_OPERAND = r"(?= ?(?:[A-Za-z_(\[*&!~+\-]|::))"
# `void(x)` only where a statement or an operand starts; `void(*f)(int)`, `void()` are no casts.
_STATEMENT_START = "|".join(
    f"(?<={before}void)" for before in ("^", "[;{}(),?:]", "[;{}(),?:] ", "\\belse ", "\\breturn ", "\\bdo ")
)
_SUPPRESSIONS = tuple(
    re.compile(pattern)
    for pattern in (
        rf"\( ?{_CV} ?\bvoid\b{_CV} ?\){_NOT_AN_OPERAND}{_OPERAND}",
        rf"static_cast ?<{_CV} ?\bvoid\b{_CV} ?> ?\({_OPERAND}",
        rf"void(?:{_STATEMENT_START}) ?\((?! ?[*&)])(?! ?\w+ ?:: ?\*){_OPERAND}",
        r":: ?unused\b",  # [[gnu::unused]]
        r"using ?(?:__)?gnu(?:__)? ?:[^\]]{0,200}?\bunused\b",  # [[using gnu: unused]]
        r"__attribute(?:__)? ?\(\((?:[^()]{0,200}?, ?)?unused\b",  # __attribute__((unused))
    )
)
_SUPPRESSION_WORDS = ("maybe_unused", "__unused__")  # [[maybe_unused]], __attribute__((__unused__)), ...
_SPACE = re.compile(r"\s+")


def count_suppressions(view_text: str) -> int:
    """Warning-silencing constructs in the view: void casts of names and expressions, `unused` attributes."""
    text = _SPACE.sub(" ", view_text)
    casts = sum(sum(1 for _ in pattern.finditer(text)) for pattern in _SUPPRESSIONS)
    return casts + sum(text.count(word) for word in _SUPPRESSION_WORDS)


_IDENTIFIER = re.compile(r"(?<![\w$])[A-Za-z_]\w*", re.ASCII)
# Names `#undef` cannot take (clang refuses them as macro names); none is a header's macro.
_NOT_MACRO_NAMES = frozenset(
    ["defined", "and", "and_eq", "bitand", "bitor", "compl", "not", "not_eq", "or", "or_eq", "xor", "xor_eq"]
)
_SPLICE = re.compile(r"(?:\\|\?\?/)[ \t\f\v\x00]*\n")
_DIRECTIVE_LINE = re.compile(r"^[ \t\f\v\x00]*(?:#|%:|\?\?=)[^\n]*", re.MULTILINE)


def tidy_source(view_text: str, headers: Sequence[str]) -> str:
    """clang-tidy's input: the headers, an `#undef` of every identifier of the view, then the view
    without any line a preprocessor could take as a directive (clang, unlike `-fpreprocessed`, takes
    `  # 1 "x" 3` as one, and a bare CR or a line splice could make one)."""
    body = _DIRECTIVE_LINE.sub("", _SPLICE.sub("", view_text.replace("\r", "\n")))
    names = sorted(set(_IDENTIFIER.findall(view_text)) - _NOT_MACRO_NAMES)
    head = "".join(f"#include <{h}>\n" for h in headers) + "".join(f"#undef {n}\n" for n in names)
    return head + body


def count_warnings(stderr: str) -> int:
    """Located warnings in g++'s messages (tool-level `cc1plus: warning:` lines are not the code's)."""
    return sum(1 for d in parse_diagnostics(stderr) if d.severity == "warning" and d.line is not None)


# ----------------------------------------------------------------------------- GCC in the sandbox


class GccViewer:
    """Builds CandidateViews and compiles them, in the sandbox, under one VerifierConfig."""

    def __init__(self, config: VerifierConfig | None = None) -> None:
        self.config = config or VerifierConfig.from_settings()

    def view(self, code: str, *, std: str, flags: Sequence[str], test_code: str | None = None) -> CandidateView:
        """GCC's view of `code` alone (`test_code` is accepted for the callers' convenience; unused)."""
        headers = leading_block(code).headers
        pch_header = self._ready_pch(code, std, flags, headers)
        # As in the verification's translation unit: `__FILE__` must read the same in both.
        source = f'#line 1 "{CANDIDATE_FILE}"\n{code}'.encode()
        with _workdir() as work:
            if pch_header is not None:
                view = self._view_with_pch(work, source, std, flags, headers, pch_header)
                if view is not None:
                    return view
            return self._view_with_headers(work, source, std, flags, headers)

    def warnings(self, view: CandidateView, *, std: str, flags: Sequence[str]) -> int | None:
        """g++'s warning count on the view; None when it does not compile cleanly to the end
        (error, timeout, output flood): the caller charges the maximum then."""
        if not view.ok:
            return None
        count = self._compile(view.prelude, view.prelude_binds, view.text, std, flags)
        if count is None and view.prelude_binds:
            # The PCH may have gone (evicted) since the view was made: never charge for that.
            prelude = self._headers_prelude(view.headers, std, flags)
            count = self._compile(prelude, (), view.text, std, flags)
        return count

    # -- internals ---------------------------------------------------------------------------
    def _ready_pch(self, code: str, std: str, flags: Sequence[str], headers: tuple[str, ...]) -> Path | None:
        cache = pch_cache(self.config, self._sandboxed())
        if not headers or cache is None or not cache.ready(std, flags, headers):
            return None  # the view builds no PCH: the verification's policy decides that
        return cache.header_for(code, std, flags)

    def _view_with_pch(
        self, work: Path, source: bytes, std: str, flags: Sequence[str], headers: tuple[str, ...], pch_header: Path
    ) -> CandidateView | None:
        """The view under `-fpch-preprocess`; None when GCC did not take the PCH (then no stand-in)."""
        gch = f"{pch_header}.gch"
        if any(c in gch for c in '"\\\n'):
            return None
        argv = [*self._base(std, flags), "-E", "-P", "-fpch-preprocess", "-include", str(pch_header), "-x", "c++", "-"]
        out = self._run(argv, work, source, (pch_header.parent,), VIEW_CAP_BYTES)
        raw = out.stdout.decode(errors="surrogateescape")
        first, _, rest = raw.partition("\n")
        if _failure(out) is not None or first != f'#pragma GCC pch_preprocess "{gch}"':
            return None
        text, pragmas = clean_view(strip_leading_blank_lines(rest))
        return CandidateView(text, headers, f'#pragma GCC pch_preprocess "{gch}"\n', (pch_header.parent,), pragmas)

    def _view_with_headers(
        self, work: Path, source: bytes, std: str, flags: Sequence[str], headers: tuple[str, ...]
    ) -> CandidateView:
        """The view with the leading headers' macros and include guards set by `-imacros` (GCC drops
        their text, keeps their pragmas and blank lines), cut after our sentinel."""
        with _trusted_dir() as trusted:
            (trusted / "headers.h").write_text("".join(f"#include <{h}>\n" for h in headers))
            (trusted / "start.h").write_text(_SENTINEL + "\n")
            argv = [*self._base(std, flags), "-E", "-P"]
            argv += ["-imacros", str(trusted / "headers.h")] if headers else []
            argv += ["-include", str(trusted / "start.h"), "-x", "c++", "-"]
            out = self._run(argv, work, source, (trusted,), VIEW_CAP_BYTES + HEADER_LEFTOVERS_BYTES)
        failure = _failure(out)
        raw = out.stdout.decode(errors="surrogateescape")
        # Ours is the first occurrence: the trusted headers never hold it, and it precedes the code.
        start = raw.find(_SENTINEL + "\n")
        if failure is None and (start < 0 or (start > 0 and raw[start - 1] != "\n")):
            failure = "GCC's output lacks the view's start"
        rest = raw[start + len(_SENTINEL) + 1 :]
        if failure is None and len(rest) > VIEW_CAP_BYTES:
            failure = "g++'s output exceeded its cap"
        if failure is not None:
            return CandidateView("", headers, failure=failure)
        text, pragmas = clean_view(strip_leading_blank_lines(rest))
        prelude = self._headers_prelude(headers, std, flags) if headers else ""
        return CandidateView(text, headers, prelude, (), pragmas)

    def _headers_prelude(self, headers: Sequence[str], std: str, flags: Sequence[str]) -> str:
        """GCC's own `-E` of the trusted headers, linemarkers kept: they mark the text as system headers."""
        with _trusted_dir() as trusted:
            (trusted / "headers.h").write_text("".join(f"#include <{h}>\n" for h in headers))
            argv = [*self._base(std, flags), "-E", "-x", "c++", "headers.h"]
            out = self._run(argv, trusted, None, (), PRELUDE_CAP_BYTES)
        if _failure(out) is not None:
            raise ToolchainError(f"preprocessing the standard headers {', '.join(headers)} failed: {_failure(out)}")
        return out.stdout.decode(errors="surrogateescape") + "\n"

    def _compile(self, prelude: str, binds: tuple[Path, ...], text: str, std: str, flags: Sequence[str]) -> int | None:
        # -S, not -fsyntax-only: the middle end's warnings (-Wuninitialized, -Warray-bounds...) count too.
        argv = [*self._base(std, flags), "-fpreprocessed", "-S", "-o", "/dev/null", "-fno-diagnostics-show-caret"]
        source = (prelude + text).encode(errors="surrogateescape")
        with _workdir() as work:
            out = self._run([*argv, "-x", "c++", "-"], work, source, binds, self.config.output_cap_bytes)
        if _failure(out) is not None or out.stderr_truncated:
            return None
        return count_warnings(out.stderr.decode(errors="replace"))

    def _base(self, std: str, flags: Sequence[str]) -> list[str]:
        # The PCH was built with exactly these, so GCC takes it; -E ignores the -W flags.
        return compile_base_command(std, flags, self.config.max_errors)

    def _sandboxed(self) -> bool:
        return sandbox_mode(self.config)

    def _run(self, argv: list[str], work: Path, stdin: bytes | None, binds: Sequence[Path], cap: int) -> SandboxOutcome:
        limits = dataclasses.replace(
            compile_limits(self.config.build_limits), output_cap_bytes=cap, kill_on_output_overflow=True
        )
        with _unlinked_input(work, stdin) as fd:
            spec = SandboxSpec(
                argv=argv, workdir=work, limits=limits, ro_binds=tuple(binds), minimal_dev=True, mount_proc=False,
                stdin_fd=fd,
            )  # fmt: skip
            out = run_sandboxed(spec, sandboxed=self._sandboxed())
        if out.sandbox_error or (out.returncode is None and out.signal is None and not out.timed_out):
            raise ToolchainError(f"the sandboxed g++ run failed: {out.sandbox_error or 'no exit status'}")
        return out


def _failure(out: SandboxOutcome) -> str | None:
    """Why a g++ run did not finish cleanly, or None."""
    if out.timed_out:
        return "g++ timed out"
    if out.output_overflow or out.stdout_truncated:
        return "g++'s output exceeded its cap"
    if out.returncode != 0:
        return f"g++ exited with {out.returncode if out.returncode is not None else f'signal {out.signal}'}"
    return None


@contextlib.contextmanager
def _workdir() -> Iterator[Path]:
    """A fresh working directory that shows `__has_include` what the verification's showed: nothing
    but the runner object's name (the contents cannot matter: including an object file does not
    compile)."""
    with workdir("view") as tmp:
        work = Path(tmp)
        (work / RUNNER_OBJECT_NAME).touch()
        if os.geteuid() == 0:
            os.chown(work, NOBODY_UID, NOBODY_UID)
        yield work


@contextlib.contextmanager
def _trusted_dir() -> Iterator[Path]:
    """Our own inputs, at a random path no candidate can name, readable by the sandbox's user."""
    with workdir("trusted") as tmp:
        os.chmod(tmp, 0o755)
        if os.geteuid() == 0:
            os.chown(tmp, NOBODY_UID, NOBODY_UID)
        yield Path(tmp)


@contextlib.contextmanager
def _unlinked_input(work: Path, data: bytes | None) -> Iterator[int | None]:
    """compile.unlinked_source, or no input at all."""
    if data is None:
        yield None
        return
    with unlinked_source(work, data) as fd:
        yield fd

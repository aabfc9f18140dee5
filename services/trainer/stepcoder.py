"""StepCoder (arXiv 2402.01391) for verifier-grounded RL: CCCS prompts and FGO masks, as pure functions.

CCCS (curriculum of code completion subtasks): the prompt carries a prefix of the known solution,
which shrinks as the policy's groups start to compile. FGO (fine-grained optimisation): the first
compiler error inside the completion cuts it; tokens after the error line leave the loss, since
nothing after a compile error was checked by anything.
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from services.verifier.core.harness import CANDIDATE_FILE, TEST_FILE

# --------------------------------------------------------------------------- CCCS


@dataclass
class CCCSState:
    prefix_frac: float
    shrinks: int = 0

    def to_dict(self) -> dict[str, Any]:
        return {"prefix_frac": self.prefix_frac, "shrinks": self.shrinks}

    @classmethod
    def from_dict(cls, d: Mapping[str, Any]) -> CCCSState:
        frac, shrinks = d.get("prefix_frac"), d.get("shrinks", 0)
        if isinstance(frac, bool) or not isinstance(frac, int | float) or not 0 <= frac <= 1:
            raise ValueError(f"CCCS prefix_frac must be a number in [0, 1], not {frac!r}")
        if isinstance(shrinks, bool) or not isinstance(shrinks, int) or shrinks < 0:
            raise ValueError(f"CCCS shrinks must be a non-negative integer, not {shrinks!r}")
        return cls(prefix_frac=float(frac), shrinks=shrinks)


def _body_line_ends(solution: str) -> list[int]:
    """End offsets (before the newline, and a CR before it) of the solution's non-empty lines but the last."""
    ends: list[int] = []
    start = 0
    while start < len(solution):
        newline = solution.find("\n", start)
        end = len(solution) if newline < 0 else newline
        content_end = end - 1 if end > start and solution[end - 1] == "\r" else end
        if solution[start:content_end].strip():
            ends.append(content_end)
        start = end + 1
    return ends[:-1]  # the final line (a function's closing `}`) is always left for the model


def solution_prefix(canonical_solution: str, frac: float) -> str:
    """The first round(frac * n) of the solution's n body lines (non-empty lines before its final one), as text.

    The prefix ends where its last line ends, without that line's newline: a prompt ending in a newline
    tokenizes differently from the same text inside a training sample (DESIGN.md, Field facts), so the
    model writes the newline itself. Rounding is half up (0.5 -> 1), not Python's half-to-even.
    """
    if not 0 <= frac <= 1:
        raise ValueError(f"frac must be in [0, 1], not {frac}")
    ends = _body_line_ends(canonical_solution)
    k = min(len(ends), math.floor(frac * len(ends) + 0.5 + 1e-9))  # 1e-9: 0.7 - 0.1 * 2 is 0.49999...
    return canonical_solution[: ends[k - 1]] if k else ""


@dataclass
class CCCSCurriculum:
    """The prefix fraction starts at initial_frac and drops by decay_step (never below min_frac) each time a
    group's compile rate exceeds threshold (StepCoder shrinks the given part as the model masters the rest)."""

    initial_frac: float = 0.7
    decay_step: float = 0.1
    threshold: float = 0.6
    min_frac: float = 0.0
    state: CCCSState = field(init=False)

    def __post_init__(self) -> None:
        for name in ("initial_frac", "decay_step", "threshold", "min_frac"):
            if not 0 <= getattr(self, name) <= 1:
                raise ValueError(f"CCCS {name} must be in [0, 1], not {getattr(self, name)}")
        if self.min_frac > self.initial_frac:
            raise ValueError("CCCS min_frac must not exceed initial_frac")
        self.state = CCCSState(prefix_frac=self.initial_frac)

    @property
    def prefix_frac(self) -> float:
        return self.state.prefix_frac

    def update(self, group_compile_rate: float) -> bool:
        """Shrink once if the rate is above the threshold (not equal to it); whether the prefix shrank."""
        if group_compile_rate <= self.threshold:
            return False
        # rounded so that ten steps of 0.1 land on 0.0, not on 1e-16
        shrunk = max(self.min_frac, round(self.state.prefix_frac - self.decay_step, 9))
        if shrunk >= self.state.prefix_frac:
            return False
        self.state = CCCSState(prefix_frac=shrunk, shrinks=self.state.shrinks + 1)
        return True

    def state_dict(self) -> dict[str, Any]:
        return self.state.to_dict()

    def load_state_dict(self, d: Mapping[str, Any]) -> None:
        self.state = CCCSState.from_dict(d)

    def prompt_for(self, prompt: str, canonical_solution: str) -> tuple[str, str]:
        """(prompt + prefix, prefix) for the current fraction."""
        prefix = solution_prefix(canonical_solution, self.prefix_frac)
        return prompt + prefix, prefix


# --------------------------------------------------------------------------- FGO: where the first error is

_ANSI = re.compile(r"\x1b\[[0-9;]*[A-Za-z]")
# file:line:col: rest  (col optional; gcc's `required from` lines have no severity after it)
_LOCATED = re.compile(r"^(?P<file>[^\s:][^:]*):(?P<line>\d+):(?:\d+:)?\s+(?P<rest>.*)$")
_SEVERITY = re.compile(r"^(?P<sev>fatal error|error|warning|note|remark):")
# gcc: `In file included from a.h:3,` then `                 from prog.cpp:1:`; clang: one `In file included from` each
_INCLUDED = re.compile(r"^(?:In file included from|\s+from) (?P<file>.+?):(?P<line>\d+)[:,]$")
# gcc's instantiation trail before an error; clang's notes after one
_GCC_TRAIL = re.compile(r"^(?:recursively )?required (?:from|by)\b")
_CLANG_TRAIL = re.compile(r"requested here|^in instantiation of|^while (?:substituting|checking|defining)")
_CONTEXT = re.compile(r"^\S[^:]*: (?:In |At )")
_TOOL_ERROR = re.compile(r"^\S[^:]*: (?:fatal error|error):")
_SOURCE_SUFFIXES = (".cpp", ".cc", ".cxx", ".c++", ".cp", ".C", ".CPP", ".ii", ".c")
_SYSTEM_DIRS = ("/usr/", "/opt/", "/lib/")


@dataclass
class _Error:
    where: tuple[str, int]
    includes: list[tuple[str, int]]  # the #include chain printed before it
    trail: list[tuple[str, int]]  # where the template it sits in was instantiated, innermost first


def _scan(stderr: str) -> tuple[list[_Error], list[str]]:
    """Every located error with its include chain and instantiation trail, and every file named at a location.

    Both compilers print an instantiation trail (gcc: `required from` lines before the error; clang:
    `requested here` notes after it) and an include chain only when it changed since the previous
    diagnostic, so an error without them inherits the last ones (the trail until gcc opens a new
    `In function` context; the chain per file).
    """
    errors: list[_Error] = []
    files: list[str] = []
    includes: list[tuple[str, int]] = []
    chains: dict[str, list[tuple[str, int]]] = {}  # file -> the include chain last printed for it
    pending: list[tuple[str, int]] = []  # gcc trail lines waiting for their error
    context: list[tuple[str, int]] = []  # the trail in force
    current: _Error | None = None  # the error that clang's notes after it belong to
    fresh = False  # whether current's trail was printed for it (else it is inherited)
    for raw in stderr.splitlines():
        line = _ANSI.sub("", raw).rstrip()
        inc = _INCLUDED.match(line)
        if inc:
            includes.append((inc.group("file"), int(inc.group("line"))))
            files.append(inc.group("file"))
            continue
        loc = _LOCATED.match(line)
        if loc is None:
            if _CONTEXT.match(line):  # gcc's `file: In function 'f':` opens a new context
                pending, context = [], []
            elif _TOOL_ERROR.match(line):  # `cc1plus: fatal error: ...`, `collect2: error: ...`: no line to cut at
                current = None
            continue
        where = (loc.group("file"), int(loc.group("line")))
        files.append(where[0])
        rest = loc.group("rest")
        sev = _SEVERITY.match(rest)
        if sev is None:
            if _GCC_TRAIL.match(rest):
                pending.append(where)
            continue
        if includes:
            chains[where[0]] = includes
        if sev.group("sev") != "note":  # an error, or a warning whose trail the next error may inherit
            fresh = bool(pending)
            context = pending or context
            current = _Error(where, chains.get(where[0], []), list(context))
            if sev.group("sev") in ("error", "fatal error"):
                errors.append(current)
        elif current is not None and _CLANG_TRAIL.search(rest[sev.end() :].strip()):
            if not fresh:  # clang printed a new trail: it replaces the inherited one
                current.trail, fresh = [], True
            current.trail.append(where)
            context = current.trail
        includes, pending = [], []  # a chain or trail belongs to the diagnostic right after it
    return errors, files


def _main_file(files: Sequence[str], source_file: str | None) -> str | None:
    """The file that holds `code`: source_file if given; solution.cpp when the verifier compiled it; else the
    first source file named that is not a system one. The verifier's test.cpp never holds the candidate."""
    if source_file is not None:
        return next((f for f in files if f == source_file or f.rsplit("/", 1)[-1] == source_file), source_file)
    if CANDIDATE_FILE in files:
        return CANDIDATE_FILE
    return next((f for f in files if _is_user_source(f)), None)


def _is_user_source(path: str) -> bool:
    source = path == "<stdin>" or path.endswith(_SOURCE_SUFFIXES)
    return source and path != TEST_FILE and not path.startswith(_SYSTEM_DIRS)


def _parse_error_line(stderr: str, code: str, *, source_file: str | None = None) -> int | None:
    """1-based line of `code` where the compiler's first error in it lies, or None if no error lies in it.

    Reads g++ and clang++ text (ANSI colours stripped): the verifier's compile_output (the candidate is
    `solution.cpp`, the appended test `test.cpp`) or a plain `g++ prog.cpp` of code + test, where lines
    past `code`'s last one are the test's. An error inside a system header counts at the candidate line
    that instantiated it (gcc's `required from` trail, clang's `requested here` notes, innermost first),
    or, with no trail, at the candidate's #include that led there. "First" is the earliest such line in
    the code, not the first in the output: gcc reports errors in template instantiations at the end of
    the translation unit, after errors of later lines and of the test. `source_file` names the file
    holding `code` when it is neither solution.cpp nor the first source file in the output.
    """
    errors, files = _scan(stderr)
    main = _main_file(files, source_file)
    if main is None:
        return None
    n_lines = code.count("\n") + (0 if code.endswith("\n") or not code else 1)

    def in_code(where: tuple[str, int]) -> bool:
        return where[0] == main and 1 <= where[1] <= n_lines

    found: list[int] = []
    for err in errors:
        if in_code(err.where):
            found.append(err.where[1])
            continue
        chain = err.trail or err.includes  # an instantiation trail says more than the include that led there
        hit = next((w for w in chain if in_code(w)), None)
        if hit is not None:
            found.append(hit[1])
    return min(found) if found else None


# --------------------------------------------------------------------------- FGO: what the loss keeps


def completion_cut(code: str, completion_start: int, line: int) -> int | None:
    """Offset in code[completion_start:] where `line` (1-based) of code ends; None if it ends before the
    completion starts or code has no such line. Tokens starting at or after the cut leave the loss."""
    if not 0 <= completion_start <= len(code):
        raise ValueError(f"completion_start {completion_start} is outside the code (length {len(code)})")
    if line < 1:
        return None
    start = 0
    for _ in range(line - 1):
        newline = code.find("\n", start)
        if newline < 0:
            return None
        start = newline + 1
    end = code.find("\n", start)
    end = len(code) if end < 0 else end
    if end > start and code[end - 1] == "\r":
        end -= 1
    return None if end < completion_start else end - completion_start


def fgo_token_mask(token_char_starts: Sequence[int], cut: int | None) -> list[bool]:
    """True = the token stays in the loss: it starts before the cut (every token when cut is None)."""
    if cut is None:
        return [True] * len(token_char_starts)
    return [start < cut for start in token_char_starts]

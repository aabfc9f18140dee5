"""Read the runner's nonce'd records and score the tests by the contract.

Records arrive on their own pipe, never on stdout; runtime/runner.cpp writes them from the one
instruction its seccomp filter lets write there, each carrying the run's nonce:
  `@<nonce> RETURN <status>`   the program's main returned <status> (exactly one, or none counts)
  `@<nonce> PASSED <p>/<t>`    a test reported p of t passed (the last one wins)
  `@<nonce> INFRA <code>`      the runner could not set the run up (an infrastructure failure)
Numbers are read with bounded digit counts, so no output can make parsing costly or raise.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

MAX_TESTS_TOTAL = 1000
_MAX_DIGITS = 18


@dataclass(frozen=True)
class RunVerdict:
    returned: bool  # the user's main returned (exactly one genuine RETURN record)
    return_status: int | None
    marker_passed: int | None
    marker_total: int | None
    infra: bool = False  # the runner reported that it could not set the run up


def read_verdict(records: str, nonce: str) -> RunVerdict:
    record = re.compile(
        rf"\n?@{nonce} (RETURN|PASSED|INFRA) (-?\d{{1,{_MAX_DIGITS}}})(?!\d)(?:/(\d{{1,{_MAX_DIGITS}}})(?!\d))?\n?"
    )
    returns: list[int] = []
    markers: list[tuple[int, int]] = []
    infra = False
    for m in record.finditer(records):
        kind, first, second = m.group(1), int(m.group(2)), m.group(3)
        if kind == "RETURN" and second is None:
            returns.append(first)
        elif kind == "PASSED" and second is not None and first >= 0:
            markers.append((first, int(second)))
        elif kind == "INFRA":
            infra = True
    # Two records mean the process forked around the runner: trust neither.
    returned = len(returns) == 1
    passed, total = markers[-1] if markers else (None, None)
    return RunVerdict(
        returned=returned,
        return_status=returns[0] if returned else None,
        marker_passed=passed,
        marker_total=total,
        infra=infra,
    )


def score_tests(
    verdict: RunVerdict, *, ended_normally: bool, exit_ok: bool, has_tests: bool, marker_expected: bool
) -> tuple[int, int]:
    """(tests_passed, tests_total) by the contract's rules.

    `ended_normally`: the process exited by itself (no signal, no deadline, no output overflow).
    `exit_ok`: and with status 0. No credit is ever taken from a run that did not end normally, or
    whose main did not return: a marker printed before a crash proves nothing.
    """
    if not has_tests:
        return 0, 0
    trusted = verdict.returned and ended_normally
    if verdict.marker_total is not None and verdict.marker_total > 0:
        total = min(verdict.marker_total, MAX_TESTS_TOTAL)
        if not trusted:
            return 0, total
        passed = min(verdict.marker_passed or 0, verdict.marker_total)
        # Scale when capped so the ratio, which the reward uses, is preserved.
        if verdict.marker_total > MAX_TESTS_TOTAL:
            passed = passed * MAX_TESTS_TOTAL // verdict.marker_total
        return passed, total
    if marker_expected:
        return 0, 1  # the test reports by marker and none arrived
    # A marker-less test is one test: passed iff main returned 0 and the process ended cleanly.
    ok = trusted and verdict.return_status == 0 and exit_ok
    return (1 if ok else 0), 1

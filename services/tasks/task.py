"""The one task type: a C++ problem with HumanEval-X field names.

`prompt + canonical_solution` is the function as a translation unit without `main`; `test` is
appended to it (the HumanEval-X convention: one translation unit, the test brings its own `main`).
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Task:
    task_id: str
    prompt: str
    canonical_solution: str
    test: str
    declaration: str = ""  # HumanEval-X: the prompt's includes and signature without the docstring
    example_test: str = ""  # HumanEval-X: a test built from the prompt's examples only
    wrong_solution: str = ""  # the bench set: a plausible body that compiles and fails `test`

    @property
    def code(self) -> str:
        """prompt + canonical_solution: the solved function, no `main`."""
        return self.prompt + self.canonical_solution


REQUIRED_FIELDS = ("task_id", "prompt", "canonical_solution", "test")
OPTIONAL_FIELDS = ("declaration", "example_test", "wrong_solution")

"""Pydantic models at the verifier's HTTP edge. Library code never imports this module."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict, Field, field_validator

from .flags import validate_flags, validate_std
from .verify import MAX_TIMEOUT_S

EXAMPLE_CODE = "#include <cstdio>\nint add(int a, int b) { return a + b; }\n"
EXAMPLE_TEST = "#undef NDEBUG\n#include <assert.h>\nint main() { assert(add(2, 3) == 5); }\n"


class _Options(BaseModel):
    model_config = ConfigDict(extra="forbid")

    test_code: str | None = Field(None, description="Trusted test code appended to the code (HumanEval-X style).")
    timeout: float = Field(10.0, gt=0, le=MAX_TIMEOUT_S, description="Run deadline in seconds.")
    std: str = Field("c++17", description="Language standard, e.g. c++17, c++20, gnu++17.")
    extra_flags: list[str] = Field(default_factory=list, description="Allowlisted extra g++ flags, e.g. -O2.")
    return_structured: bool = Field(False, description="Include error_class and parsed diagnostics.")
    strip_think: bool = Field(True, description="Strip <think>...</think> blocks from the code first.")

    @field_validator("std")
    @classmethod
    def _std(cls, v: str) -> str:
        return validate_std(v)

    @field_validator("extra_flags")
    @classmethod
    def _flags(cls, v: list[str]) -> list[str]:
        return list(validate_flags(v))


class VerifyRequest(_Options):
    code: str = Field(..., description="The candidate C++ source.", examples=[EXAMPLE_CODE])


class BatchRequest(_Options):
    completions: list[str] = Field(..., min_length=1, description="Candidates, all verified against test_code.")


class RewardRequest(VerifyRequest):
    shaped: bool = Field(True, description="Also compute the shaped CompilerRewardShaper reward.")
    sanitizer_fraction: float = Field(0.1, ge=0.0, le=1.0, description="Share of runs re-checked under ASan+UBSan.")
    use_clang_tidy: bool = Field(True, description="Penalise clang-tidy modernize-*/bugprone-* findings.")
    seed: int | None = Field(None, description="Seed of the sanitizer sampling.")


class VerifyResponse(BaseModel):
    compile_ok: bool
    warnings: int
    warning_lines: list[str]
    run_ok: bool
    stdout: str
    stderr: str
    returncode: int | None
    tests_passed: int
    tests_total: int
    ran: bool
    main_returned: bool
    signal: int | None
    error_class: str | None
    diagnostics: list[dict[str, Any]]
    compile_output: str
    compile_s: float
    run_s: float
    cached: bool
    stdout_truncated: bool
    stderr_truncated: bool
    reward: float = Field(..., description="compute_reward of this result (the seed's schedule).")


class BatchResponse(BaseModel):
    results: list[VerifyResponse]
    rewards: list[float]
    unique: int = Field(..., description="Distinct candidates actually verified or looked up.")


class ShapedResponse(BaseModel):
    total: float
    components: dict[str, float]
    sanitizer_sampled: bool
    sanitizer_findings: list[str]
    tidy_findings: list[str]
    warnings: int


class RewardResponse(BaseModel):
    reward: float
    shaped: ShapedResponse | None
    result: VerifyResponse


class ErrorResponse(BaseModel):
    detail: str

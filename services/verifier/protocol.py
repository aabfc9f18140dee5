"""Pydantic models at the verifier's HTTP edge. Library code never imports this module.

Every text field must be valid Unicode (a lone UTF-16 surrogate such as JSON "\\ud800" cannot
be written out as UTF-8 for the compiler) and every number finite: such input is a 422 that
names the field, never a 500 further down.
"""

from __future__ import annotations

import dataclasses
from typing import Annotated

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, ValidationInfo, field_validator

from .core.diagnostics import Diagnostic, ErrorClass
from .core.flags import MAX_REQUEST_FLAGS, validate_flags, validate_std
from .core.reward import ShapedReward
from .core.verify import MAX_TIMEOUT_S, VerifyResult

EXAMPLE_CODE = "#include <cstdio>\nint add(int a, int b) { return a + b; }\n"
EXAMPLE_TEST = "#undef NDEBUG\n#include <assert.h>\nint main() { assert(add(2, 3) == 5); }\n"
MAX_SEED = 2**64 - 1


def _valid_unicode(value: str, info: ValidationInfo) -> str:
    """Refuse what cannot be encoded as UTF-8 (lone surrogates); the message names the field."""
    try:
        value.encode("utf-8")
    except UnicodeEncodeError as exc:
        where = info.field_name or "text"
        code_point = ord(value[exc.start])
        raise ValueError(
            f"{where} contains a lone UTF-16 surrogate (U+{code_point:04X} at index {exc.start}); "
            "send valid Unicode text"
        ) from None
    return value


Text = Annotated[str, AfterValidator(_valid_unicode)]


class _Options(BaseModel):
    model_config = ConfigDict(extra="forbid")

    test_code: Text | None = Field(None, description="Trusted test code appended to the code (HumanEval-X style).")
    timeout: float = Field(
        10.0, gt=0, le=MAX_TIMEOUT_S, allow_inf_nan=False, description="Run deadline in seconds (finite)."
    )
    std: Text = Field("c++17", description="Language standard, e.g. c++17, c++20, gnu++17.")
    extra_flags: list[Text] = Field(default_factory=list, description="Allowlisted extra g++ flags, e.g. -O2.")
    return_structured: bool = Field(False, description="Include error_class and parsed diagnostics.")
    strip_think: bool = Field(True, description="Strip <think>...</think> blocks from the code first.")

    @field_validator("std")
    @classmethod
    def _std(cls, v: str) -> str:
        return validate_std(v)

    @field_validator("extra_flags")
    @classmethod
    def _flags(cls, v: list[str]) -> list[str]:
        if len(v) > MAX_REQUEST_FLAGS:
            raise ValueError(f"too many flags: at most {MAX_REQUEST_FLAGS}")
        return list(validate_flags(v))


class VerifyRequest(_Options):
    code: Text = Field(..., description="The candidate C++ source.", examples=[EXAMPLE_CODE])


class BatchRequest(_Options):
    completions: list[Text] = Field(..., min_length=1, description="Candidates, all verified against test_code.")


class RewardRequest(VerifyRequest):
    shaped: bool = Field(True, description="Also compute the shaped CompilerRewardShaper reward.")
    sanitizer_fraction: float = Field(
        0.1, ge=0.0, le=1.0, allow_inf_nan=False, description="Share of runs re-checked under ASan+UBSan."
    )
    use_clang_tidy: bool = Field(True, description="Penalise clang-tidy modernize-*/bugprone-* findings.")
    seed: int | None = Field(None, ge=0, le=MAX_SEED, description="Seed of the sanitizer sampling (0 to 2**64-1).")


class DiagnosticModel(BaseModel):
    """diagnostics.Diagnostic on the wire (tests/verifier/test_protocol.py keeps the fields equal)."""

    file: str
    line: int | None
    column: int | None
    severity: str = Field(..., description="error | warning | note | fatal error")
    message: str

    @classmethod
    def from_diagnostic(cls, diag: Diagnostic) -> DiagnosticModel:
        return cls.model_validate(dataclasses.asdict(diag))

    def to_diagnostic(self) -> Diagnostic:
        return Diagnostic(**self.model_dump())


class VerifyResponse(BaseModel):
    """verify.VerifyResult plus its reward; built by `from_result`, never field by field.

    The fields are declared (for the OpenAPI schema and typed clients) and tests/verifier/test_protocol.py
    fails when they and VerifyResult's drift apart.
    """

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
    error_class: ErrorClass | None = Field(..., description='Why the build or run failed ("none" when it did not).')
    diagnostics: list[DiagnosticModel] = Field(..., description="Parsed g++/ld messages; with return_structured.")
    compile_output: str
    compile_s: float
    run_s: float
    cached: bool
    stdout_truncated: bool
    stderr_truncated: bool
    infra_error: str | None = Field(
        None, description="Set iff the verifier itself failed on this candidate (then reward is null)."
    )
    reward: float | None = Field(
        ...,
        description="compute_reward of this result (the seed's schedule); null when infra_error is set: "
        "no reward, never 0.0. Only batch items can be null: a single verification that fails answers 503.",
    )

    @classmethod
    def from_result(cls, result: VerifyResult, *, reward: float | None, structured: bool = True) -> VerifyResponse:
        """Every VerifyResult field by name; diagnostics only when asked for (`return_structured`)."""
        data = {f.name: getattr(result, f.name) for f in dataclasses.fields(result)}
        data["diagnostics"] = [DiagnosticModel.from_diagnostic(d) for d in result.diagnostics] if structured else []
        return cls.model_validate({**data, "reward": reward})

    def to_result(self) -> VerifyResult:
        """The library's VerifyResult again (e.g. to compute a reward schedule client-side)."""
        data = {f.name: getattr(self, f.name) for f in dataclasses.fields(VerifyResult)}
        data["diagnostics"] = [d.to_diagnostic() for d in self.diagnostics]
        return VerifyResult(**data)


class BatchResponse(BaseModel):
    results: list[VerifyResponse]
    rewards: list[float | None] = Field(
        ..., description="One per completion; null for an item the verifier failed on (TRL: ignore it)."
    )
    unique: int = Field(..., description="Distinct candidates actually verified or looked up.")


class ShapedResponse(BaseModel):
    """reward.ShapedReward less base_reward (the response's `reward` already says it)."""

    total: float
    components: dict[str, float]
    sanitizer_sampled: bool
    sanitizer_findings: list[str]
    tidy_findings: list[str]
    warnings: int

    @classmethod
    def from_shaped(cls, shaped: ShapedReward) -> ShapedResponse:
        data = {f.name: getattr(shaped, f.name) for f in dataclasses.fields(shaped) if f.name in cls.model_fields}
        return cls.model_validate(data)


class RewardResponse(BaseModel):
    reward: float
    shaped: ShapedResponse | None
    result: VerifyResponse


class ErrorResponse(BaseModel):
    detail: str = Field(..., description="What went wrong, in one message.")


class ValidationIssue(BaseModel):
    loc: list[str | int] = Field(..., description='Where, e.g. ["body", "extra_flags", 1].')
    msg: str
    type: str


class ValidationErrorResponse(BaseModel):
    detail: list[ValidationIssue]
    message: str = Field(..., description="The first issue in one line, naming the field.")

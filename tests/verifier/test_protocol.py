"""The verifier's response models stay derived from the library's dataclasses."""

from __future__ import annotations

import dataclasses
import json

from services.verifier.core.diagnostics import Diagnostic, ErrorClass
from services.verifier.core.reward import ShapedReward
from services.verifier.core.verify import VerifyResult
from services.verifier.protocol import DiagnosticModel, ShapedResponse, VerifyResponse

RESPONSE_ONLY = {"reward"}  # what the edge adds to a VerifyResult


def sample_result() -> VerifyResult:
    return VerifyResult(
        compile_ok=False,
        warnings=1,
        warning_lines=["a.cpp:1:1: warning: w"],
        run_ok=False,
        stdout="out",
        stderr="err",
        returncode=None,
        tests_passed=0,
        tests_total=1,
        ran=False,
        main_returned=False,
        signal=None,
        error_class=ErrorClass.UNDECLARED,
        diagnostics=[Diagnostic("a.cpp", 3, 7, "error", "'y' was not declared in this scope")],
        compile_output="a.cpp:3:7: error: 'y' was not declared in this scope",
        compile_s=0.25,
        run_s=0.0,
        cached=True,
        stdout_truncated=False,
        stderr_truncated=True,
        infra_error=None,
    )


def test_verify_response_has_exactly_the_result_fields() -> None:
    result_fields = [f.name for f in dataclasses.fields(VerifyResult)]
    response_fields = [name for name in VerifyResponse.model_fields if name not in RESPONSE_ONLY]
    assert response_fields == result_fields


def test_diagnostic_model_has_exactly_the_diagnostic_fields() -> None:
    assert list(DiagnosticModel.model_fields) == [f.name for f in dataclasses.fields(Diagnostic)]


def test_shaped_response_is_the_shaped_reward_less_its_base() -> None:
    assert set(ShapedResponse.model_fields) == {f.name for f in dataclasses.fields(ShapedReward)} - {"base_reward"}


def test_round_trip_keeps_every_field() -> None:
    result = sample_result()
    response = VerifyResponse.from_result(result, reward=0.0)
    assert response.error_class is ErrorClass.UNDECLARED
    assert response.diagnostics[0].line == 3
    assert response.to_result() == result


def test_unstructured_answers_drop_diagnostics_only() -> None:
    response = VerifyResponse.from_result(sample_result(), reward=0.0, structured=False)
    assert response.diagnostics == []
    assert response.error_class is ErrorClass.UNDECLARED
    assert response.compile_output.startswith("a.cpp:3:7")


def test_json_on_the_wire_is_the_result_as_a_dict() -> None:
    result = sample_result()
    wire = json.loads(VerifyResponse.from_result(result, reward=0.5).model_dump_json())
    assert wire == {**json.loads(json.dumps(result.to_dict())), "reward": 0.5}
    assert wire["error_class"] == "undeclared"
    parsed = VerifyResponse.model_validate(wire)
    assert parsed.error_class is ErrorClass.UNDECLARED


def test_shaped_response_from_shaped_reward() -> None:
    shaped = ShapedReward(
        total=0.61,
        components={"compile": 0.3},
        base_reward=1.0,
        sanitizer_sampled=True,
        tidy_findings=["x"],
        warnings=2,
    )
    model = ShapedResponse.from_shaped(shaped)
    assert model.model_dump() == {k: v for k, v in dataclasses.asdict(shaped).items() if k != "base_reward"}


def test_cached_json_reads_back_as_the_same_result() -> None:
    """The Redis cache stores to_dict() as JSON: the enum and the diagnostics must come back typed."""
    result = sample_result()
    again = VerifyResult.from_dict(json.loads(json.dumps(result.to_dict())))
    assert again == result
    assert again.error_class is ErrorClass.UNDECLARED

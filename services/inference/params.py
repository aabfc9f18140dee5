"""OpenAI request fields the service knows but does not implement: accepted at their neutral value only.

Never silently ignored: a field nobody declares is a 400 `unsupported parameter: X` (the request
models forbid extras; services/common/openai_errors.py renders it), and a known field asked for
something we do not do (a penalty, a tool, JSON mode) is a 400 `unsupported_value` naming it in
`param`. `NEUTRAL` is the table the README lists: field -> (what passes, its test).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from pydantic import BaseModel, Field, ValidationInfo, field_validator
from pydantic_core import PydanticCustomError


@dataclass(frozen=True)
class Neutral:
    accepted: str  # for messages and the README
    test: Callable[[Any], bool]


def _none_or(*values: Any) -> Callable[[Any], bool]:
    return lambda v: v is None or any(v == x and type(v) is type(x) for x in values)


def _empty(v: Any) -> bool:
    return v is None or v == [] or v == {} or v == ""


def _zero(v: Any) -> bool:
    return v is None or v == 0


NEUTRAL: dict[str, Neutral] = {
    # completions and chat
    "suffix": Neutral('null or ""', _empty),
    "presence_penalty": Neutral("0", _zero),
    "frequency_penalty": Neutral("0", _zero),
    "logit_bias": Neutral("null or {}", _empty),
    # chat only
    "tools": Neutral("null or []", _empty),
    "functions": Neutral("null or []", _empty),
    "tool_choice": Neutral('null or "none"', _none_or("none")),
    "function_call": Neutral('null or "none"', _none_or("none")),
    "response_format": Neutral('null or {"type": "text"}', lambda v: v is None or v == {"type": "text"}),
    "store": Neutral("null or false", _none_or(False)),
    "service_tier": Neutral('null, "auto" or "default"', _none_or("auto", "default")),
    "reasoning_effort": Neutral("null", _none_or()),
    "modalities": Neutral('null or ["text"]', lambda v: v is None or v == ["text"]),
    "audio": Neutral("null", _none_or()),
    "prediction": Neutral("null", _none_or()),
    "web_search_options": Neutral("null", _none_or()),
}
# Accepted whatever their value, as labels with no effect: `user`, `metadata`, and `parallel_tool_calls`
# (there are never tools to call in parallel: `tools` must be empty).
LABELS = ("user", "metadata", "parallel_tool_calls")


def _check_neutral(value: Any, info: ValidationInfo) -> Any:
    name = info.field_name or "?"
    rule = NEUTRAL[name]
    if not rule.test(value):
        raise PydanticCustomError(
            "unsupported_value",
            "{name}={value} is not supported by this service; only {accepted} is accepted",
            {"name": name, "value": repr(value)[:80], "accepted": rule.accepted},
        )
    return value


class CompletionExtras(BaseModel):
    """Fields of OpenAI's /v1/completions the service does not implement (see NEUTRAL)."""

    suffix: str | None = Field(None, description='Not supported: null or "" only.')
    presence_penalty: float | None = Field(None, description="Not supported: 0 only.")
    frequency_penalty: float | None = Field(None, description="Not supported: 0 only.")
    logit_bias: dict[str, float] | None = Field(None, description="Not supported: null or {} only.")

    @field_validator("suffix", "presence_penalty", "frequency_penalty", "logit_bias")
    @classmethod
    def _neutral(cls, value: Any, info: ValidationInfo) -> Any:
        return _check_neutral(value, info)


class ChatExtras(CompletionExtras):
    """Fields of OpenAI's /v1/chat/completions the service does not implement (see NEUTRAL)."""

    tools: list[Any] | None = Field(None, description="Not supported: null or [] only.")
    functions: list[Any] | None = Field(None, description="Not supported: null or [] only.")
    tool_choice: str | dict[str, Any] | None = Field(None, description='Not supported: null or "none" only.')
    function_call: str | dict[str, Any] | None = Field(None, description='Not supported: null or "none" only.')
    parallel_tool_calls: bool | None = Field(None, description="Accepted; no effect (there are no tools).")
    response_format: dict[str, Any] | None = Field(None, description='Only {"type": "text"}.')
    store: bool | None = Field(None, description="Not supported: null or false only.")
    metadata: dict[str, str] | None = Field(None, description="Accepted as labels; not stored.")
    service_tier: str | None = Field(None, description='null, "auto" or "default" (the tier is the API key\'s).')
    reasoning_effort: str | None = Field(None, description="Not supported: null only.")
    modalities: list[str] | None = Field(None, description='Only ["text"].')
    audio: dict[str, Any] | None = Field(None, description="Not supported: null only.")
    prediction: dict[str, Any] | None = Field(None, description="Not supported: null only.")
    web_search_options: dict[str, Any] | None = Field(None, description="Not supported: null only.")

    @field_validator(
        "tools", "functions", "tool_choice", "function_call", "response_format", "store", "service_tier",
        "reasoning_effort", "modalities", "audio", "prediction", "web_search_options",
    )  # fmt: skip
    @classmethod
    def _chat_neutral(cls, value: Any, info: ValidationInfo) -> Any:
        return _check_neutral(value, info)

"""A chat message as OpenAI's clients send it, reduced to what the prompt uses: a role and its text.

Unknown keys are a 400 (`unsupported parameter: messages.0.foo`), never dropped. `content` is a
string or a list of parts (LangChain sends `[{"type": "text", "text": ...}]`): text parts are
joined in order with a newline (as vLLM does); any other part type (an image, audio, a file) is a
400 naming the part. `name` is accepted and not part of the prompt. No tools are offered, so the
assistant's tool fields pass only at their neutral value, and a `tool` message (a tool's answer)
could answer no call: a 400, as OpenAI refuses a tool message without a preceding `tool_calls`.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationInfo, field_validator, model_validator
from pydantic_core import PydanticCustomError

from .text_checks import UNICODE_ONLY, Text


def _text_of(part: Any, index: int) -> str:
    if not isinstance(part, dict):
        raise PydanticCustomError("content_part", "part {index} is not an object", {"index": index})
    kind = part.get("type")
    if kind != "text":
        raise PydanticCustomError(
            "content_part",
            "part {index} has type {kind}; only text parts are supported",
            {"index": index, "kind": repr(kind)},
        )
    extra = sorted(set(part) - {"type", "text"})
    if extra:
        raise PydanticCustomError(
            "content_part", "part {index}: unsupported key {key}", {"index": index, "key": repr(extra[0])}
        )
    text = part.get("text")
    if not isinstance(text, str):
        raise PydanticCustomError("content_part", "part {index}: `text` must be a string", {"index": index})
    return text


class ChatMessage(BaseModel):
    model_config = ConfigDict(extra="forbid")

    role: Literal["system", "user", "assistant", "developer", "tool"]
    content: Annotated[str | list[Any] | None, UNICODE_ONLY] = Field(
        "", description="A string, or text parts joined with a newline."
    )
    name: Text | None = Field(None, description="Accepted; not part of the prompt.")
    tool_calls: list[Any] | None = Field(None, description="Not supported: null or [] only.")
    function_call: dict[str, Any] | None = Field(None, description="Not supported: null only.")
    tool_call_id: str | None = Field(None, description="Not supported: null only (no tools are offered).")
    refusal: str | None = Field(None, description="Not supported: null only.")
    audio: dict[str, Any] | None = Field(None, description="Not supported: null only.")

    @field_validator("role")
    @classmethod
    def _role(cls, value: str) -> str:
        if value == "tool":
            raise PydanticCustomError(
                "unsupported_value",
                "role 'tool' is not supported: no tools are offered, so there is no tool call to answer",
            )
        return value

    @field_validator("content", mode="before")  # before the union: its errors would name `content.str`
    @classmethod
    def _content_shape(cls, value: Any, info: ValidationInfo) -> Any:
        if value is None or isinstance(value, str | list):
            return value
        raise PydanticCustomError("content", "content is a string or a list of text parts")

    @model_validator(mode="after")
    def _has_content(self) -> ChatMessage:
        # OpenAI: only an assistant message (one that made tool calls) may come without content.
        if self.content is None and self.role != "assistant":
            raise PydanticCustomError("content", "a {role} message needs content", {"role": self.role})
        return self

    @field_validator("content")
    @classmethod
    def _parts(cls, value: str | list[Any] | None) -> str | list[Any] | None:
        if isinstance(value, list):
            for i, part in enumerate(value):
                _text_of(part, i)
        return value

    @field_validator("tool_calls", "function_call", "tool_call_id", "refusal", "audio")
    @classmethod
    def _neutral(cls, value: Any, info: ValidationInfo) -> Any:
        if value is None or (info.field_name == "tool_calls" and value == []):
            return value
        accepted = "null or []" if info.field_name == "tool_calls" else "null"
        raise PydanticCustomError(
            "unsupported_value",
            "{name} is not supported by this service (no tools are offered); only {accepted} is accepted",
            {"name": info.field_name, "accepted": accepted},
        )

    def text(self) -> str:
        if isinstance(self.content, list):
            return "\n".join(_text_of(p, i) for i, p in enumerate(self.content))
        return self.content or ""

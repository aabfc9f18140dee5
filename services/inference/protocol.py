"""OpenAI-compatible request/response models (fields in the order of OpenAI's reference).

Extensions are marked as such: `best_of` on chat, `stop` up to 4 strings, and `/v1/best_of_n`.
"""

from __future__ import annotations

import re
from typing import Annotated, Any, Literal

from pydantic import (
    AfterValidator,
    BaseModel,
    ConfigDict,
    Field,
    StrictBool,
    StrictInt,
    ValidationInfo,
    field_validator,
    model_validator,
)
from pydantic_core import PydanticCustomError

from ..common.openai_errors import ErrorBody, ErrorResponse  # noqa: F401  (the shared error shape, re-exported)
from ..lm.sampling import SamplingParams
from .chat_messages import ChatMessage
from .params import ChatExtras, CompletionExtras
from .prompt_ids import token_prompt
from .protocol_logprobs import ChatLogprobs, CompletionLogprobs
from .text_checks import UNICODE_ONLY, Text

DEFAULT_MAX_TOKENS = 128
MODEL_HELP = (
    "Model id (see GET /v1/models): a loaded adapter's name runs exactly that adapter; the base model id "
    "runs the default (the active adapter if one was activated, else the base). Unknown: 404."
)
# Candidate i draws with seed + i (n and best_of are at most 16): the headroom keeps seed + i a valid
# torch seed (torch takes -2**63 .. 2**64-1), so every seed that passes here runs.
SEED_MIN, SEED_MAX = -(2**63), 2**63 - 1 - 16
# Strict where a coerced value would change meaning ("false" is not false, 1.0 is not a count); a number
# may be an int, never a string.
Seed = Annotated[StrictInt, Field(ge=SEED_MIN, le=SEED_MAX)]
Number = Annotated[float, Field(strict=True, allow_inf_nan=False)]
# The sampler divides float32 logits by the temperature, itself rounded to float32 (where 1e-46 is 0):
# logits / t must stay finite. Logits are within ~1e3, so t >= 1e-4 keeps them within ~1e7; a smaller
# t is greedy decoding in all but name (0 asks for that).
TEMPERATURE_MIN = 1e-4
# The most likely of V tokens has p >= 1/V: for any vocabulary up to 1e6 tokens a top_p at or below
# 1e-6 keeps that token alone, so a smaller value means nothing more (and rounds to 0 in float32).
TOP_P_MIN = 1e-6


def _temperature(value: float) -> float:
    if 0 < value < TEMPERATURE_MIN:
        raise PydanticCustomError(
            "temperature_too_small",
            "temperature must be 0 (greedy) or at least {minimum}",
            {"minimum": f"{TEMPERATURE_MIN:g}"},
        )
    return value


def _top_p(value: float) -> float:
    if value < TOP_P_MIN:
        raise PydanticCustomError(
            "top_p_too_small",
            "top_p must be at least {minimum} (and at most 1); for the most likely token alone, use temperature 0",
            {"minimum": f"{TOP_P_MIN:g}"},
        )
    return value


Temperature = Annotated[Number, Field(ge=0.0, le=2.0), AfterValidator(_temperature)]
TopP = Annotated[Number, Field(le=1.0), AfterValidator(_top_p)]
TEMPERATURE_HELP = f"0 (greedy) or {TEMPERATURE_MIN:g} .. 2."
TOP_P_HELP = f"{TOP_P_MIN:g} .. 1 (nucleus sampling; the most likely token is always kept)."


def check_stops(stops: list[str]) -> None:
    """OpenAI's rule for `stop`: at most 4 sequences, none empty (an empty one would match everywhere)."""
    if len(stops) > 4:
        raise ValueError("at most 4 stop sequences")
    if any(not s for s in stops):
        raise ValueError("stop sequences must be non-empty")


def _null_is_default(model: type[BaseModel], data: Any) -> Any:
    """OpenAI lets a client send null for an optional field: it means the default (drops those keys)."""
    if isinstance(data, dict):
        return {k: v for k, v in data.items() if v is not None or k not in model.model_fields}
    return data


class StreamOptions(BaseModel):
    model_config = ConfigDict(extra="forbid")

    include_usage: StrictBool = Field(False, description="A last chunk with `usage` (and `choices: []`) before [DONE].")


class _Sampling(BaseModel):
    # A field nobody declares is a 400 "unsupported parameter" (never silently ignored); params.py
    # declares OpenAI's fields the service does not implement, accepted at their neutral value only.
    model_config = ConfigDict(extra="forbid")

    model: Text = Field(..., description=MODEL_HELP + " Required, as in OpenAI.")
    max_tokens: StrictInt | None = Field(
        None,
        ge=1,
        le=2048,
        description="Tokens to generate per candidate, up to the tier's cap (403 over it); not given: the "
        "service's default (CPPFORGE_MAX_TOKENS_DEFAULT), clipped to the cap.",
    )
    temperature: Temperature = Field(1.0, description=TEMPERATURE_HELP)
    top_p: TopP = Field(1.0, description=TOP_P_HELP)
    n: StrictInt = Field(1, ge=1, le=16, description="Choices to return.")
    seed: Seed | None = Field(
        None, description="Candidate i is drawn with seed + i (reproducible alone); -2**63 .. 2**63 - 17."
    )
    stop: Annotated[str | list[str] | None, UNICODE_ONLY] = Field(None, description="Up to 4 stop sequences.")
    stream: StrictBool = Field(
        False, description="Server-sent events, one chunk per decoded piece, then `data: [DONE]`. Not with best_of > n."
    )
    stream_options: StreamOptions | None = Field(None, description="Only with stream=true.")
    user: Text | None = None

    @model_validator(mode="before")
    @classmethod
    def _nulls(cls, data: Any) -> Any:
        return _null_is_default(cls, data)

    @field_validator("stop")
    @classmethod
    def _stop(cls, v: str | list[str] | None) -> str | list[str] | None:
        check_stops([v] if isinstance(v, str) else (v or []))
        return v

    def stops(self) -> tuple[str, ...]:
        return (self.stop,) if isinstance(self.stop, str) else tuple(self.stop or ())

    def sampling_params(self, max_tokens_default: int = DEFAULT_MAX_TOKENS) -> SamplingParams:
        return SamplingParams(
            max_tokens=self.max_tokens or max_tokens_default,
            temperature=self.temperature,
            top_p=self.top_p,
            stop=self.stops(),
            seed=self.seed,
        )


class CompletionRequest(_Sampling, CompletionExtras):
    prompt: Annotated[str | list[Any], UNICODE_ONLY] = Field(
        ...,
        description="One prompt: a string, or token ids (used as given; each must be in the vocabulary). A list "
        "of one string is accepted; several prompts (a batch) are not: send one request each.",
    )
    best_of: StrictInt | None = Field(
        None, ge=1, le=16, description="Candidates generated server-side; the best n return."
    )
    echo: StrictBool = False
    logprobs: StrictInt | None = Field(
        None, ge=0, le=5, description="Per token: its logprob and the `logprobs` most likely tokens (legacy shape)."
    )

    @field_validator("prompt", mode="before")  # before the union: its errors would name `prompt.str`
    @classmethod
    def _one_prompt(cls, value: Any) -> Any:
        if isinstance(value, str):
            return value
        if isinstance(value, list) and value and all(type(t) is int for t in value):  # token ids (no bools)
            return value
        if isinstance(value, list) and len(value) == 1 and isinstance(value[0], str):
            return value
        if isinstance(value, list) and len(value) > 1 and all(isinstance(p, str | list) for p in value):
            raise PydanticCustomError(
                "one_prompt", "a batch of several prompts is not supported: send one request per prompt"
            )
        if isinstance(value, list) and not value:
            raise PydanticCustomError("one_prompt", "the prompt is empty")
        raise PydanticCustomError(
            "one_prompt", "a prompt is a string or a list of token ids (integers; a list of one string is accepted)"
        )

    def logprobs_count(self) -> int | None:
        return self.logprobs

    def prompt_text(self, tokenizer: Any) -> str:
        """The prompt's text; token ids come back as a TokenPrompt (ValueError: an id outside the vocabulary)."""
        if isinstance(self.prompt, str):
            return self.prompt
        if isinstance(self.prompt[0], str):
            return str(self.prompt[0])
        return token_prompt(self.prompt, tokenizer)


class ChatCompletionRequest(_Sampling, ChatExtras):
    messages: list[ChatMessage] = Field(..., min_length=1)
    best_of: StrictInt | None = Field(None, ge=1, le=16, description="Extension: candidates generated server-side.")
    max_completion_tokens: StrictInt | None = Field(
        None, ge=1, le=2048, description="OpenAI's newer name of max_tokens; give one of the two."
    )
    logprobs: StrictBool = Field(False, description="Per token of the content: its logprob (raw, temperature 1).")
    top_logprobs: StrictInt | None = Field(
        None, ge=0, le=20, description="With logprobs: that many most likely tokens."
    )

    @field_validator("max_completion_tokens")
    @classmethod
    def _one_budget(cls, value: int | None, info: ValidationInfo) -> int | None:
        if value is not None and info.data.get("max_tokens") is not None:
            raise ValueError("give max_tokens or max_completion_tokens, not both")
        return value

    def logprobs_count(self) -> int | None:
        return (self.top_logprobs or 0) if self.logprobs else None


class BestOfNRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    prompt: Text = Field(..., description="The code prompt (e.g. includes + comment + signature).")
    n: StrictInt = Field(4, ge=1, le=16, description="Candidates to generate and rank.")
    max_tokens: StrictInt = Field(
        DEFAULT_MAX_TOKENS,
        ge=1,
        le=2048,
        description="Tokens per candidate, up to the tier's cap (403 over it); not given: this default, clipped "
        "to the cap.",
    )
    temperature: Temperature = Field(1.0, description=TEMPERATURE_HELP)
    top_p: TopP = Field(1.0, description=TOP_P_HELP)
    seed: Seed | None = Field(None, description="Candidate i is drawn with seed + i; -2**63 .. 2**63 - 17.")
    stop: list[Text] = Field(default_factory=list, max_length=4)
    model: Text | None = Field(None, description=MODEL_HELP + " Optional here: none runs the default.")

    @model_validator(mode="before")
    @classmethod
    def _nulls(cls, data: Any) -> Any:
        return _null_is_default(cls, data)

    @field_validator("stop")
    @classmethod
    def _stop(cls, v: list[str]) -> list[str]:
        check_stops(v)
        return v

    def sampling_params(self) -> SamplingParams:
        return SamplingParams(
            max_tokens=self.max_tokens,
            temperature=self.temperature,
            top_p=self.top_p,
            stop=tuple(self.stop),
            seed=self.seed,
        )


# No ".": PEFT refuses a module name with a dot, so such an adapter could never be loaded or served.
ADAPTER_NAME = r"^[A-Za-z0-9_-]{1,64}$"


def _adapter_name(value: str | None, info: ValidationInfo) -> str | None:
    if value is None:
        return value
    if "." in value:
        raise ValueError(
            f"{info.field_name} {value!r}: adapter names may not contain '.' (PEFT cannot load an adapter under "
            "such a name, so it could never be served)"
        )
    if not re.fullmatch(ADAPTER_NAME, value):
        raise ValueError(f"{info.field_name} {value!r}: expected 1-64 characters of A-Z a-z 0-9 _ -")
    return value


class AdapterRequest(BaseModel):
    """Either `path` (a directory the server can read) or `registry` (a name in the adapter registry)."""

    model_config = ConfigDict(extra="forbid")

    path: Text | None = Field(
        None, description="Local directory of a PEFT LoRA adapter. Give `path` or `registry`, not both."
    )
    registry: str | None = Field(
        None,
        description="A name in the adapter registry (`cppforge registry list`), loaded under that name. The "
        "artifact's files are checked against its manifest and its base model's content hash against the served "
        "model's: 409 `base_model_mismatch` (naming both) or `adapter_corrupt`; an unknown name: 404 "
        "`adapter_not_found`.",
        examples=["job-20250101-120000-abc123"],
    )
    name: str | None = Field(
        None,
        description="Name to load it under (the model id requests use). Default: the registry name with "
        "`registry` (which it must then equal), `default` with `path`.",
    )
    activate: bool = Field(True, description="Make it the active adapter (the default model).")
    replace: bool = Field(
        True, description="Under a name already loaded, replace its weights (a trainer's weight sync); false: 400."
    )

    @field_validator("registry", "name")
    @classmethod
    def _name(cls, value: str | None, info: ValidationInfo) -> str | None:
        return _adapter_name(value, info)

    @model_validator(mode="after")
    def _one_source(self) -> AdapterRequest:
        if (self.path is None) == (self.registry is None):
            raise ValueError("give exactly one of `path` (a directory) and `registry` (a registry name)")
        if self.registry is not None and self.name not in (None, self.registry):
            raise ValueError(f"a registry adapter loads under its registry name {self.registry!r}, not {self.name!r}")
        return self

    @property
    def load_name(self) -> str:
        return self.name or self.registry or "default"


class AdapterResponse(BaseModel):
    loaded: list[str] = Field(..., description="Every adapter loaded so far, in load order.")
    active: str | None = Field(..., description="The adapter now active (the default model), if any.")
    replaced: bool = Field(False, description="The name was loaded before; its weights are the new ones now.")


class AdapterList(BaseModel):
    loaded: list[str] = Field(..., description="Every adapter loaded, in load order.")
    active: str | None = Field(..., description="The adapter now active (the default model), if any.")


class Usage(BaseModel):
    prompt_tokens: int
    completion_tokens: int
    total_tokens: int


class CompletionChoice(BaseModel):
    index: int
    text: str
    finish_reason: str
    logprobs: CompletionLogprobs | None = None
    stop_reason: str | None = Field(
        None, description="vLLM's extension: the stop sequence that ended the choice (null for EOS or length)."
    )


class CompletionResponse(BaseModel):
    id: str
    object: Literal["text_completion"] = "text_completion"
    created: int
    model: str
    choices: list[CompletionChoice]
    usage: Usage
    cppforge: dict[str, Any] | None = Field(None, description="Extension: ranking metrics when best_of > 1.")


class ChatChoiceMessage(BaseModel):
    role: Literal["assistant"] = "assistant"
    content: str


class ChatChoice(BaseModel):
    index: int
    message: ChatChoiceMessage
    finish_reason: str
    logprobs: ChatLogprobs | None = None


class ChatCompletionResponse(BaseModel):
    id: str
    object: Literal["chat.completion"] = "chat.completion"
    created: int
    model: str
    choices: list[ChatChoice]
    usage: Usage
    cppforge: dict[str, Any] | None = None


class ModelCard(BaseModel):
    id: str
    object: Literal["model"] = "model"
    created: int
    owned_by: str = "cppforge"
    root: str | None = Field(None, description="The base: its own id; a LoRA adapter: the path it was loaded from.")
    parent: str | None = Field(None, description="A LoRA adapter: the base model id (as vLLM reports LoRA modules).")


class ModelList(BaseModel):
    object: Literal["list"] = "list"
    data: list[ModelCard]


class BestOfNResponse(BaseModel):
    best: str
    best_index: int
    metrics: dict[str, Any]
    model: str = Field(..., description="The model id that generated (an adapter's name, or the base id).")

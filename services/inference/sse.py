"""Server-sent events for `stream=true`: OpenAI's chunk shapes over a GenerationStream.

`data: {chunk}\\n\\n` per piece, then `data: [DONE]\\n\\n`. Completions chunks are `text_completion`
objects (`choices: [{index, text, logprobs, finish_reason, stop_reason}]`); chat chunks are
`chat.completion.chunk` objects whose first chunk per choice carries `delta.role` and whose last
carries `finish_reason`. With `stream_options.include_usage` every chunk has `usage: null` and a last
chunk with `choices: []` carries the usage. A failure once the stream has begun ends it with
`data: {"error": {...}}` (OpenAI's error shape; the `openai` client raises it) and no [DONE].
"""

from __future__ import annotations

import json
import logging
import time
from collections.abc import AsyncIterator, Callable
from typing import Any

from fastapi.responses import StreamingResponse

from ..common.errors import ServiceError
from .logprobs import chat_logprobs, completion_logprobs
from .service import completion_id
from .streaming import ChoiceDelta, GenerationStream

log = logging.getLogger(__name__)

Chunk = dict[str, Any]
# how one piece of one choice looks in a chunk's `choices`
ChoiceShape = Callable[[ChoiceDelta], Chunk]


def event(data: Chunk | str) -> str:
    return f"data: {data if isinstance(data, str) else json.dumps(data, ensure_ascii=False)}\n\n"


def error_event(exc: BaseException) -> str:
    if isinstance(exc, ServiceError):
        body = {"message": str(exc), "type": exc.error_type, "param": exc.param, "code": exc.code}
    else:  # the traceback stays in the server's log, as for the JSON errors
        body = {"message": f"internal error ({type(exc).__name__}); logged on the server", "type": "server_error",
                "param": None, "code": None}  # fmt: skip
    return event({"error": body})


def completion_choice(delta: ChoiceDelta) -> Chunk:
    return {
        "index": delta.index,
        "text": delta.text,
        "logprobs": None if delta.logprobs is None else completion_logprobs(delta.logprobs).model_dump(),
        "finish_reason": delta.finish_reason,
        "stop_reason": delta.stop_reason,
    }


def chat_choice(delta: ChoiceDelta) -> Chunk:
    return {
        "index": delta.index,
        "delta": {"content": delta.text} if delta.text or delta.finish_reason is None else {},
        "logprobs": None if delta.logprobs is None else chat_logprobs(delta.logprobs).model_dump(),
        "finish_reason": delta.finish_reason,
    }


async def _events(
    stream: GenerationStream, *, head: Chunk, shape: ChoiceShape, first: list[Chunk], include_usage: bool
) -> AsyncIterator[str]:
    def chunk(choices: list[Chunk]) -> Chunk:
        return {**head, "choices": choices, **({"usage": None} if include_usage else {})}

    try:
        for choice in first:
            yield event(chunk([choice]))
        async for pieces in stream.deltas():
            for piece in pieces:  # one choice per chunk, as OpenAI sends them
                yield event(chunk([shape(piece)]))
        if include_usage:
            prompt, completion = stream.prompt_tokens, stream.completion_tokens
            usage = {"prompt_tokens": prompt, "completion_tokens": completion, "total_tokens": prompt + completion}
            yield event({**head, "choices": [], "usage": usage})
        yield event("[DONE]")
    except Exception as exc:
        log.exception("a streamed generation failed")
        yield error_event(exc)
    finally:
        stream.cancel()


def _response(events: AsyncIterator[str]) -> StreamingResponse:
    headers = {"Cache-Control": "no-cache", "X-Accel-Buffering": "no"}  # no proxy buffering of the events
    return StreamingResponse(events, media_type="text/event-stream", headers=headers)


def stream_completions(stream: GenerationStream, *, echo: str | None, include_usage: bool) -> StreamingResponse:
    """`echo`: the prompt, sent first as each choice's text (as the non-streamed text starts with it)."""
    head = {"id": completion_id("cmpl"), "object": "text_completion", "created": int(time.time()),
            "model": stream.model}  # fmt: skip
    first = [
        {"index": c.index, "text": echo, "logprobs": None, "finish_reason": None, "stop_reason": None}
        for c in stream.choices
        if echo
    ]
    return _response(_events(stream, head=head, shape=completion_choice, first=first, include_usage=include_usage))


def stream_chat(stream: GenerationStream, *, include_usage: bool) -> StreamingResponse:
    head = {"id": completion_id("chatcmpl"), "object": "chat.completion.chunk", "created": int(time.time()),
            "model": stream.model}  # fmt: skip
    first = [
        {"index": c.index, "delta": {"role": "assistant", "content": ""}, "logprobs": None, "finish_reason": None}
        for c in stream.choices
    ]
    return _response(_events(stream, head=head, shape=chat_choice, first=first, include_usage=include_usage))

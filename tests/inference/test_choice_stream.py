"""ChoiceStream (services/inference/streaming.py) against the real sampler, many seeds and stops: the
pieces always concatenate to the sample's text and carry exactly the logprobs a whole answer reports."""

from __future__ import annotations

from services.inference.logprobs import TokenTexts, sample_logprobs
from services.inference.streaming import ChoiceDelta, ChoiceStream
from services.lm.model import LoadedModel
from services.lm.prompts import encode_prompt
from services.lm.sampling import SampleRequest, SamplingParams, StepListener, TokenEvent, sample_batch

PROMPT = "#include <string>\nusing namespace std;\n// count the vowels of s\nint vowels(string s) {"
STOPS = [("\n",), (";", "\n}"), ("\n    ", "++"), ("i", "in"), ("return",)]


def test_pieces_reassemble_to_the_sample_for_many_seeds_and_stops(tiny_model: LoadedModel) -> None:
    tok = tiny_model.tokenizer
    prompt = encode_prompt(tok, PROMPT)
    events: dict[tuple[int, int], list[TokenEvent]] = {}

    def listener(r: int) -> StepListener:
        def on_step(step: list[TokenEvent]) -> None:
            for e in step:
                events.setdefault((r, e.index), []).append(e)

        return on_step

    requests = [
        SampleRequest(
            prompt, 4, SamplingParams(max_tokens=40, seed=100 * r, stop=stops, logprobs=1), on_step=listener(r)
        )
        for r, stops in enumerate(STOPS)
    ]
    results = sample_batch(tiny_model.model, tok, requests)
    texts = TokenTexts(tok)
    finishes = []
    for r, (samples, _) in enumerate(results):
        for s in samples:
            stream = ChoiceStream(s.index, tok, texts, STOPS[r], logprobs=True)
            pieces = [d for e in events[(r, s.index)] if (d := stream.push(e)) is not None]
            assert "".join(p.text for p in pieces) == s.text
            assert [t for p in pieces for t in p.logprobs or []] == sample_logprobs(tok, s)
            assert pieces[-1].finish_reason == s.finish_reason and all(p.finish_reason is None for p in pieces[:-1])
            assert _never_past_a_stop(pieces, STOPS[r])
            finishes.append(s.finish_reason)
    assert finishes.count("stop") >= 5  # the stops were really hit


def _never_past_a_stop(pieces: list[ChoiceDelta], stops: tuple[str, ...]) -> bool:
    sent = ""
    for p in pieces:
        sent += p.text
        if any(s in sent for s in stops):
            return False
    return True

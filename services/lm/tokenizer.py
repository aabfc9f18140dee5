"""The bootstrap model's tokenizer: byte-level BPE with Llama-style BOS and byte-exact decoding."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

SPECIAL_TOKENS = ("<s>", "</s>", "<pad>", "<think>", "</think>")
THINK_TOKENS = ("<think>", "</think>")
MAX_POSITIONS = 512  # the bootstrap model's context (BootstrapConfig.max_position_embeddings)


def train_tokenizer(texts: Sequence[str], vocab_size: int = 512) -> Any:
    """A byte-level BPE `PreTrainedTokenizerFast` over `texts` (bos/eos/pad and think tokens special).

    Encoding adds `<s>` in front (like Llama tokenizers); decoding is byte-exact (no clean-up of
    spaces, which would change code such as `f(a , b)`).
    """
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers, processors, trainers
    from transformers import PreTrainedTokenizerFast

    tok = Tokenizer(models.BPE())
    tok.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False, use_regex=True)
    tok.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(
        vocab_size=vocab_size,
        min_frequency=2,
        special_tokens=list(SPECIAL_TOKENS),
        initial_alphabet=pre_tokenizers.ByteLevel.alphabet(),
        show_progress=False,
    )
    tok.train_from_iterator(texts, trainer=trainer, length=len(texts))
    bos_id = tok.token_to_id("<s>")
    tok.post_processor = processors.TemplateProcessing(
        single="<s> $A", pair="<s> $A <s> $B", special_tokens=[("<s>", bos_id)]
    )
    return PreTrainedTokenizerFast(
        tokenizer_object=tok,
        bos_token="<s>",
        eos_token="</s>",
        pad_token="<pad>",
        additional_special_tokens=list(THINK_TOKENS),
        clean_up_tokenization_spaces=False,
        padding_side="left",
        model_max_length=MAX_POSITIONS,
    )

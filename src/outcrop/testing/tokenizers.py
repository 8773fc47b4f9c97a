"""Byte-level BPE tokenizers trained in memory on a fixed corpus: deterministic, offline, any language."""

from __future__ import annotations

from typing import Any

# Fixed corpus: the tokenizer (and so every test-profile output) depends on nothing outside this file.
CORPUS = [
    "a photo of a red car", "a blue sky over green mountains", "a cat sitting on a sofa",
    "describe the image", "what is in this picture", "extract all text as json",
    "The quick brown fox jumps over the lazy dog.", "user assistant system image text",
    "赤い車", "夕日に照らされた穏やかな山の風景", "この画像に写っているものを説明してください。",
    "このドキュメントからすべてのテキストを抽出してJSON形式にしてください。",
    "ガラスファサードのモダンなオフィスビル", "0123456789 {}[]\":,",
] * 8


def train_bpe_tokenizer(
    special_tokens: list[str], *, vocab_size: int = 1000, model_max_length: int = 64, **named: Any
) -> Any:
    """A `PreTrainedTokenizerFast` whose special tokens come first, in the order given."""
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers
    from transformers import PreTrainedTokenizerFast

    tokenizer = Tokenizer(models.BPE())
    tokenizer.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    tokenizer.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(
        vocab_size=vocab_size,
        special_tokens=special_tokens,
        initial_alphabet=pre_tokenizers.ByteLevel.alphabet(),
        show_progress=False,
    )
    tokenizer.train_from_iterator(CORPUS, trainer)
    return PreTrainedTokenizerFast(tokenizer_object=tokenizer, model_max_length=model_max_length, **named)

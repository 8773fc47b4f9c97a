"""Tiny random XLM-RoBERTa sentence embedder (the architecture of multilingual E5 / BGE-M3) with a
sentence-transformers head: CLS pooling, a linear layer up to 1536 dimensions (Cohere Embed v4's
largest output; shorter outputs are its leading dimensions, Matryoshka-style), an 8192-token
window (Titan Text Embeddings V2's limit) and the "query"/"document" prompts of retrieval models."""

from __future__ import annotations

from pathlib import Path

EMBED_DIM = 1536
WINDOW = 8192
PROMPTS = {"query": "query: ", "document": "passage: "}


def build_tiny_text_embedder(folder: Path) -> None:
    import tempfile

    import torch
    from sentence_transformers import SentenceTransformer
    from sentence_transformers.base.modules import Dense, Transformer
    from sentence_transformers.sentence_transformer.modules import Pooling
    from tokenizers.processors import TemplateProcessing
    from transformers import XLMRobertaConfig, XLMRobertaModel

    from outcrop.testing.tokenizers import train_bpe_tokenizer

    specials = ["<s>", "<pad>", "</s>", "<unk>", "<mask>"]
    tokenizer = train_bpe_tokenizer(
        specials, model_max_length=WINDOW, bos_token="<s>", cls_token="<s>", pad_token="<pad>", eos_token="</s>",
        sep_token="</s>", unk_token="<unk>", mask_token="<mask>",
    )
    tokenizer.backend_tokenizer.post_processor = TemplateProcessing(
        single="<s> $A </s>", pair="<s> $A </s> </s> $B </s>", special_tokens=[("<s>", 0), ("</s>", 2)]
    )
    config = XLMRobertaConfig(
        vocab_size=len(tokenizer), hidden_size=32, num_hidden_layers=2, num_attention_heads=4, intermediate_size=64,
        max_position_embeddings=WINDOW + 2, pad_token_id=1, bos_token_id=0, eos_token_id=2, type_vocab_size=1,
    )
    torch.manual_seed(0)
    with tempfile.TemporaryDirectory() as encoder_dir:
        XLMRobertaModel(config).eval().save_pretrained(encoder_dir)
        tokenizer.save_pretrained(encoder_dir)
        encoder = Transformer(encoder_dir, max_seq_length=WINDOW)
        pooling = Pooling(config.hidden_size, pooling_mode="cls")
        dense = Dense(config.hidden_size, EMBED_DIM, activation_function=torch.nn.Identity())
        model = SentenceTransformer(modules=[encoder, pooling, dense], prompts=PROMPTS, device="cpu")
        model.save(str(folder))

"""Tiny SigLIP (the architecture of the real profiles' SigLIP 2 models) with 1024-d embeddings."""

from __future__ import annotations

from pathlib import Path

EMBED_DIM = 1024  # Titan's default output length: the test profile honours it natively.
TEXT_LENGTH = 64  # SigLIP pads every text to max_length, as the real checkpoints do.


def build_tiny_siglip(folder: Path) -> None:
    import torch
    from transformers import SiglipConfig, SiglipImageProcessor, SiglipModel, SiglipProcessor

    from outcrop.testing.tokenizers import train_bpe_tokenizer

    tokenizer = train_bpe_tokenizer(
        ["<pad>", "</s>", "<unk>"], model_max_length=TEXT_LENGTH, pad_token="<pad>", eos_token="</s>", unk_token="<unk>"
    )
    config = SiglipConfig(
        text_config=dict(
            vocab_size=len(tokenizer), hidden_size=32, intermediate_size=64, num_attention_heads=4,
            num_hidden_layers=2, max_position_embeddings=TEXT_LENGTH, projection_size=EMBED_DIM,
            pad_token_id=tokenizer.pad_token_id, eos_token_id=tokenizer.eos_token_id, bos_token_id=tokenizer.eos_token_id,
        ),
        vision_config=dict(
            hidden_size=EMBED_DIM, intermediate_size=64, num_attention_heads=4, num_hidden_layers=1,
            image_size=32, patch_size=8,
        ),
    )
    torch.manual_seed(0)
    model = SiglipModel(config).eval()
    processor = SiglipProcessor(
        image_processor=SiglipImageProcessor(size={"height": 32, "width": 32}), tokenizer=tokenizer
    )
    model.save_pretrained(folder)
    processor.save_pretrained(folder)

"""Tiny random-weight Stable Diffusion 3 pipeline (the architecture of SD3.5 Large), built offline:
an MMDiT transformer, a 16-channel-style flow-matching VAE (here 4 channels), the two CLIP text
encoders with projection, no T5 (diffusers' SD3 pipelines run without it) and a flow-matching
Euler scheduler. It renders at most 64 px (16×16 latents) and the engine resizes to the size asked."""

from __future__ import annotations

from pathlib import Path


def build_tiny_sd3(folder: Path) -> None:
    import torch
    from diffusers import AutoencoderKL, FlowMatchEulerDiscreteScheduler, SD3Transformer2DModel, StableDiffusion3Pipeline

    from outcrop.testing.tiny_diffusion import TEXT_HIDDEN, _text_encoder, build_clip_tokenizer

    torch.manual_seed(0)
    transformer = SD3Transformer2DModel(
        sample_size=16, patch_size=2, in_channels=4, out_channels=4, num_layers=2, attention_head_dim=8,
        num_attention_heads=4, joint_attention_dim=2 * TEXT_HIDDEN, caption_projection_dim=32,
        pooled_projection_dim=2 * TEXT_HIDDEN, pos_embed_max_size=32,
    )
    torch.manual_seed(0)
    vae = AutoencoderKL(
        sample_size=64, in_channels=3, out_channels=3, latent_channels=4, block_out_channels=(8, 16, 16),
        down_block_types=("DownEncoderBlock2D",) * 3, up_block_types=("UpDecoderBlock2D",) * 3, layers_per_block=1,
        norm_num_groups=4, use_quant_conv=False, use_post_quant_conv=False, shift_factor=0.0609, scaling_factor=1.5035,
    )
    pipe = StableDiffusion3Pipeline(
        transformer=transformer, scheduler=FlowMatchEulerDiscreteScheduler(shift=3.0), vae=vae,
        text_encoder=_text_encoder(with_projection=True), tokenizer=build_clip_tokenizer(),
        text_encoder_2=_text_encoder(with_projection=True), tokenizer_2=build_clip_tokenizer(),
        text_encoder_3=None, tokenizer_3=None,
    )
    pipe.save_pretrained(folder)

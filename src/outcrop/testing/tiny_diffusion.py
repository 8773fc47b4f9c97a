"""Tiny random-weight image-generation stack, built offline: the architectures the real profiles use.

One folder holds an SDXL pipeline (two CLIP text encoders, text_time conditioning) plus its
companions as subfolders, each saved with save_pretrained and loaded by the same code as real
weights: `unet_inpaint/` (dedicated 9-channel inpainting UNet, like
diffusers/stable-diffusion-xl-1.0-inpainting-0.1), `controlnet/` (SDXL ControlNet),
`safety_checker/` (diffusers' StableDiffusionSafetyChecker + its CLIP image processor),
`clipseg/` (CLIPSeg, text-prompted masks) and `matting/` (ViTMatte, alpha matting).
"""

from __future__ import annotations

import gzip
import importlib.util
from pathlib import Path
from typing import Any

VOCAB = 49408
BOS, EOS = 49406, 49407
TEXT_HIDDEN = 32


def _bytes_to_unicode() -> dict[int, str]:
    bs = list(range(ord("!"), ord("~") + 1)) + list(range(ord("¡"), ord("¬") + 1)) + list(range(ord("®"), ord("ÿ") + 1))
    cs = bs[:]
    n = 0
    for b in range(256):
        if b not in bs:
            bs.append(b)
            cs.append(256 + n)
            n += 1
    return dict(zip(bs, [chr(c) for c in cs]))


def build_clip_tokenizer(model_max_length: int = 77) -> Any:
    """The OpenAI CLIP BPE tokenizer (ids identical to openai/clip-*), from the vocab bundled in open_clip's wheel.

    Without open_clip installed it falls back to a byte-level vocabulary (same 49,408 ids, no merges).
    """
    from transformers import CLIPTokenizer

    spec = importlib.util.find_spec("open_clip")  # find_spec does not import open_clip (nor torchvision)
    merges: list[tuple[str, ...]] = []
    if spec is not None and spec.submodule_search_locations:
        path = Path(list(spec.submodule_search_locations)[0]) / "bpe_simple_vocab_16e6.txt.gz"
        if path.exists():
            lines = gzip.open(path).read().decode("utf-8").split("\n")
            merges = [tuple(line.split()) for line in lines[1 : 49152 - 256 - 2 + 1]]
    base = list(_bytes_to_unicode().values())
    tokens = base + [v + "</w>" for v in base] + ["".join(m) for m in merges]
    tokens += [f"<|pad{i}|>" for i in range(VOCAB - 2 - len(tokens))]
    tokens += ["<|startoftext|>", "<|endoftext|>"]
    return CLIPTokenizer(vocab={t: i for i, t in enumerate(tokens)}, merges=merges, model_max_length=model_max_length)


def _text_encoder(with_projection: bool) -> Any:
    import torch
    from transformers import CLIPTextConfig, CLIPTextModel, CLIPTextModelWithProjection

    config = CLIPTextConfig(
        vocab_size=VOCAB, hidden_size=TEXT_HIDDEN, intermediate_size=37, num_attention_heads=4, num_hidden_layers=2,
        max_position_embeddings=77, projection_dim=TEXT_HIDDEN, bos_token_id=BOS, eos_token_id=EOS,
        pad_token_id=EOS, hidden_act="gelu",
    )
    torch.manual_seed(0)
    return (CLIPTextModelWithProjection if with_projection else CLIPTextModel)(config).eval()


def _unet(in_channels: int) -> Any:
    import torch
    from diffusers import UNet2DConditionModel

    torch.manual_seed(0)
    return UNet2DConditionModel(
        sample_size=32, in_channels=in_channels, out_channels=4, block_out_channels=(32, 64), layers_per_block=1,
        down_block_types=("DownBlock2D", "CrossAttnDownBlock2D"), up_block_types=("CrossAttnUpBlock2D", "UpBlock2D"),
        attention_head_dim=(2, 4), use_linear_projection=True, transformer_layers_per_block=(1, 2),
        cross_attention_dim=2 * TEXT_HIDDEN, addition_embed_type="text_time", addition_time_embed_dim=8,
        projection_class_embeddings_input_dim=6 * 8 + TEXT_HIDDEN,
    )


def _vae() -> Any:
    import torch
    from diffusers import AutoencoderKL

    torch.manual_seed(0)
    return AutoencoderKL(
        in_channels=3, out_channels=3, latent_channels=4, block_out_channels=(32, 64),
        down_block_types=("DownEncoderBlock2D", "DownEncoderBlock2D"),
        up_block_types=("UpDecoderBlock2D", "UpDecoderBlock2D"), layers_per_block=1, sample_size=64,
    )


def _controlnet(unet: Any) -> Any:
    import torch
    from diffusers import ControlNetModel

    torch.manual_seed(0)
    return ControlNetModel.from_unet(unet, conditioning_embedding_out_channels=(16, 32))


def _safety_checker(folder: Path) -> None:
    import torch
    from diffusers.pipelines.stable_diffusion.safety_checker import StableDiffusionSafetyChecker
    from transformers import CLIPConfig, CLIPImageProcessor

    config = CLIPConfig(
        text_config=dict(hidden_size=16, intermediate_size=32, num_attention_heads=2, num_hidden_layers=1,
                         vocab_size=VOCAB, projection_dim=16),
        vision_config=dict(hidden_size=16, intermediate_size=32, num_attention_heads=2, num_hidden_layers=1,
                           image_size=32, patch_size=8, projection_dim=16),
        projection_dim=16,
    )
    torch.manual_seed(0)
    StableDiffusionSafetyChecker(config).eval().save_pretrained(folder)
    CLIPImageProcessor(size={"shortest_edge": 32}, crop_size={"height": 32, "width": 32}).save_pretrained(folder)


def _clipseg(folder: Path, tokenizer: Any) -> None:
    import torch
    from transformers import CLIPSegConfig, CLIPSegForImageSegmentation, CLIPSegProcessor, ViTImageProcessor

    config = CLIPSegConfig(
        text_config=dict(hidden_size=16, intermediate_size=32, num_attention_heads=2, num_hidden_layers=2,
                         vocab_size=VOCAB, bos_token_id=BOS, eos_token_id=EOS, pad_token_id=EOS),
        vision_config=dict(hidden_size=16, intermediate_size=32, num_attention_heads=2, num_hidden_layers=2,
                           image_size=32, patch_size=8),
        projection_dim=16, reduce_dim=8, extract_layers=[0, 1], decoder_num_attention_heads=2,
        decoder_intermediate_size=16,
    )
    torch.manual_seed(0)
    CLIPSegForImageSegmentation(config).eval().save_pretrained(folder)
    processor = CLIPSegProcessor(
        image_processor=ViTImageProcessor(size={"height": 32, "width": 32}, image_mean=[0.485, 0.456, 0.406],
                                          image_std=[0.229, 0.224, 0.225]),
        tokenizer=tokenizer,
    )
    processor.save_pretrained(folder)


def _matting(folder: Path) -> None:
    import torch
    from transformers import VitDetConfig, VitMatteConfig, VitMatteForImageMatting, VitMatteImageProcessor

    backbone = VitDetConfig(
        num_channels=4, hidden_size=16, num_hidden_layers=2, num_attention_heads=2, mlp_ratio=2, image_size=32,
        patch_size=16, pretrain_image_size=32, out_features=["stage2"],
    )
    config = VitMatteConfig(backbone_config=backbone, hidden_size=16, convstream_hidden_sizes=[8, 16, 16],
                            fusion_hidden_sizes=[16, 16, 16, 8])
    torch.manual_seed(0)
    VitMatteForImageMatting(config).eval().save_pretrained(folder)
    VitMatteImageProcessor(size_divisibility=32).save_pretrained(folder)


def build_tiny_sdxl_images(folder: Path) -> None:
    from diffusers import EulerDiscreteScheduler, StableDiffusionXLPipeline

    tokenizer = build_clip_tokenizer()
    unet = _unet(4)
    scheduler = EulerDiscreteScheduler(beta_start=0.00085, beta_end=0.012, beta_schedule="scaled_linear",
                                       steps_offset=1, timestep_spacing="leading")
    pipe = StableDiffusionXLPipeline(
        vae=_vae(), text_encoder=_text_encoder(False), text_encoder_2=_text_encoder(True), tokenizer=tokenizer,
        tokenizer_2=tokenizer, unet=unet, scheduler=scheduler,
    )
    pipe.save_pretrained(folder)
    _unet(9).save_pretrained(folder / "unet_inpaint")
    _controlnet(unet).save_pretrained(folder / "controlnet")
    _safety_checker(folder / "safety_checker")
    _clipseg(folder / "clipseg", tokenizer)
    _matting(folder / "matting")

"""Random-weight copies of a real profile's models, written into a Hugging Face cache layout, so
`HF_HUB_OFFLINE=1 HF_HUB_CACHE=DIR outcrop serve --profile cpu` loads them as if they were the released
weights: the profile's own engines, dtypes and options, measured for speed (which does not depend on the
weight values) on a machine that cannot download anything.

    python bench/random_hub.py DIR [--profile cpu] [--only Qwen/Qwen2.5-VL-3B-Instruct ...]

Architectures are the released configurations, written out; tokenizers are the test profile's (trained in
memory), with the chat model's vocabulary padded to the released size so its LM head costs what it costs.
"""

from __future__ import annotations

import argparse
import hashlib
import sys
import time
from collections.abc import Callable
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "bench"))

QWEN25_VL_3B_TEXT = dict(hidden_size=2048, intermediate_size=11008, num_hidden_layers=36, num_attention_heads=16,
                         num_key_value_heads=2, max_position_embeddings=128000, vocab_size=151936,
                         rope_parameters={"rope_type": "default", "rope_theta": 1000000.0, "mrope_section": [16, 24, 24]},
                         tie_word_embeddings=True)
QWEN25_VL_VISION = dict(depth=32, hidden_size=1280, intermediate_size=3420, num_heads=16, out_hidden_size=2048,
                        patch_size=14, spatial_merge_size=2, temporal_patch_size=2, window_size=112,
                        fullatt_block_indexes=[7, 15, 23, 31])
SIGLIP2_LARGE_256 = dict(
    vision_config=dict(hidden_size=1024, intermediate_size=4096, num_hidden_layers=24, num_attention_heads=16,
                       image_size=256, patch_size=16),
    text_config=dict(hidden_size=1024, intermediate_size=4096, num_hidden_layers=24, num_attention_heads=16,
                     max_position_embeddings=64, projection_size=1024),
)


def snapshot_dir(cache: Path, repo: str) -> Path:
    """The snapshot folder huggingface_hub resolves `repo`@main to (refs/main holds its hash)."""
    root = cache / f"models--{repo.replace('/', '--')}"
    commit = hashlib.sha1(f"random:{repo}".encode()).hexdigest()
    (root / "refs").mkdir(parents=True, exist_ok=True)
    (root / "refs" / "main").write_text(commit)
    return root / "snapshots" / commit


def build_qwen25_vl_3b(folder: Path) -> None:
    import torch
    from transformers import AutoConfig, AutoProcessor, Qwen2_5_VLConfig, Qwen2_5_VLForConditionalGeneration

    from outcrop.testing.tiny_vlm import build_tiny_qwen25vl

    build_tiny_qwen25vl(folder)  # tokenizer, processor and chat template; the model is replaced below
    tiny = AutoConfig.from_pretrained(folder)
    processor = AutoProcessor.from_pretrained(folder)
    tokenizer = processor.tokenizer
    tokenizer.add_tokens([f"w{i}" for i in range(QWEN25_VL_3B_TEXT["vocab_size"] - len(tokenizer))])  # type: ignore[operator]
    processor.image_processor.max_pixels = 12845056  # the released preprocessor's budget (profiles set their own)
    processor.image_processor.min_pixels = 3136
    processor.save_pretrained(folder)
    text = dict(QWEN25_VL_3B_TEXT, bos_token_id=None, eos_token_id=tiny.text_config.eos_token_id,
                pad_token_id=tiny.text_config.pad_token_id)
    config = Qwen2_5_VLConfig(text_config=text, vision_config=QWEN25_VL_VISION, image_token_id=tiny.image_token_id,
                              video_token_id=tiny.video_token_id, vision_start_token_id=tiny.vision_start_token_id,
                              vision_end_token_id=tiny.vision_end_token_id, tie_word_embeddings=True)
    torch.manual_seed(0)
    with torch.device("cpu"):
        model = Qwen2_5_VLForConditionalGeneration(config).to(torch.bfloat16).eval()  # the released weights are bf16
    model.generation_config.eos_token_id = tiny.text_config.eos_token_id
    model.generation_config.pad_token_id = tiny.text_config.pad_token_id
    model.save_pretrained(folder)


def build_sdxl_turbo(folder: Path) -> None:
    from generation import build_full_sdxl

    build_full_sdxl(folder, "float32")


def build_safety_checker(folder: Path) -> None:
    from generation import build_full_safety_checker

    build_full_safety_checker(folder)


def build_clipseg_rd64(folder: Path) -> None:
    """CIDAS/clipseg-rd64-refined: CLIP ViT-B/16 with a 64-d refined decoder."""
    import torch
    from transformers import CLIPSegConfig, CLIPSegForImageSegmentation, CLIPSegProcessor, ViTImageProcessor

    from outcrop.testing.tiny_diffusion import build_clip_tokenizer

    torch.manual_seed(0)
    config = CLIPSegConfig(vision_config=dict(patch_size=16, image_size=224), reduce_dim=64,
                           use_complex_transposed_convolution=True)
    CLIPSegForImageSegmentation(config).eval().save_pretrained(folder)
    image_processor = ViTImageProcessor(size={"height": 352, "width": 352}, image_mean=[0.485, 0.456, 0.406],
                                        image_std=[0.229, 0.224, 0.225], resample=2)
    CLIPSegProcessor(image_processor=image_processor, tokenizer=build_clip_tokenizer()).save_pretrained(folder)


def build_vitmatte_small(folder: Path) -> None:
    """hustvl/vitmatte-small-composition-1k: a ViTDet-S backbone."""
    import torch
    from transformers import VitDetConfig, VitMatteConfig, VitMatteForImageMatting, VitMatteImageProcessor

    torch.manual_seed(0)
    backbone = VitDetConfig(hidden_size=384, num_attention_heads=6, num_channels=4, image_size=512, patch_size=16,
                            num_hidden_layers=12, mlp_ratio=4, use_relative_position_embeddings=True,
                            window_block_indices=[0, 1, 3, 4, 6, 7, 9, 10], residual_block_indices=[2, 5, 8, 11],
                            out_features=["stage12"])
    config = VitMatteConfig(backbone_config=backbone, hidden_size=384, convstream_hidden_sizes=[48, 96, 192],
                            fusion_hidden_sizes=[256, 128, 64, 32])
    VitMatteForImageMatting(config).eval().save_pretrained(folder)
    VitMatteImageProcessor().save_pretrained(folder)


def build_siglip2_large(folder: Path) -> None:
    import torch
    from transformers import AutoProcessor, SiglipConfig, SiglipModel

    from outcrop.testing.tiny_embedding import build_tiny_siglip

    build_tiny_siglip(folder)  # processor and tokenizer; the model is replaced below
    processor = AutoProcessor.from_pretrained(folder)
    processor.image_processor.size = {"height": 256, "width": 256}
    processor.save_pretrained(folder)
    text = dict(SIGLIP2_LARGE_256["text_config"], vocab_size=len(processor.tokenizer))
    config = SiglipConfig(text_config=text, vision_config=SIGLIP2_LARGE_256["vision_config"])
    torch.manual_seed(0)
    SiglipModel(config).eval().save_pretrained(folder)


def build_taesdxl(folder: Path) -> None:
    """madebyollin/taesdxl: diffusers' AutoencoderTiny at its default (TAESD) shapes."""
    import torch
    from diffusers import AutoencoderTiny

    torch.manual_seed(0)
    AutoencoderTiny().eval().save_pretrained(folder)


BUILDERS: dict[str, Callable[[Path], None]] = {
    "madebyollin/taesdxl": build_taesdxl,
    "Qwen/Qwen2.5-VL-3B-Instruct": build_qwen25_vl_3b,
    "stabilityai/sdxl-turbo": build_sdxl_turbo,
    "CompVis/stable-diffusion-safety-checker": build_safety_checker,
    "CIDAS/clipseg-rd64-refined": build_clipseg_rd64,
    "hustvl/vitmatte-small-composition-1k": build_vitmatte_small,
    "google/siglip2-large-patch16-256": build_siglip2_large,
}
SEED_REPOS = list(BUILDERS)  # everything the seed's requests load on the cpu profile


def build(cache: Path, repos: list[str]) -> None:
    for repo in repos:
        folder = snapshot_dir(cache, repo)
        if (folder / ".complete").exists():
            continue
        folder.mkdir(parents=True, exist_ok=True)
        started = time.perf_counter()
        BUILDERS[repo](folder)
        (folder / ".complete").write_text("random weights\n")
        print(f"built {repo} (random weights) in {time.perf_counter() - started:.0f} s", flush=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("cache", type=Path)
    parser.add_argument("--only", nargs="*", default=SEED_REPOS, choices=SEED_REPOS)
    args = parser.parse_args()
    build(args.cache, args.only)


if __name__ == "__main__":
    main()

"""The small image models around diffusion: output safety classifier, text-prompted masks, matting.

- `SafetyClassifier`: diffusers' StableDiffusionSafetyChecker (CLIP vision + concept embeddings).
  `threshold` (a TOML option) replaces the trained per-concept thresholds, so a deployment can tune
  it and a test can force a flag (-2: every image flagged; 1: none, as cosine ≤ 1).
- `TextSegmenter`: CLIPSeg (`CLIPSegForImageSegmentation`) turns a text (Titan `maskPrompt`) into a
  mask. CLIPSeg's text encoder is English CLIP; other languages only work as well as CLIP's BPE
  covers them (see notes: a multilingual text tower or translation is the way to widen this).
- `BackgroundRemover`: CLIPSeg's mask of the main subject gives a trimap; ViTMatte
  (`VitMatteForImageMatting`) refines it into an alpha matte.
All three run in the diffusion engine's dtype (bf16 on a CPU with native bf16 matmul: the safety checker's
CLIP ViT-L/14 takes ~2.5x less time there); probabilities and scores are read out in fp32.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from PIL import Image


class SafetyClassifier:
    def __init__(self, folder: Path, device: str, dtype: Any, threshold: float | None) -> None:
        import torch
        from diffusers.pipelines.stable_diffusion.safety_checker import StableDiffusionSafetyChecker
        from transformers import CLIPImageProcessor

        self.device = device
        self.model = StableDiffusionSafetyChecker.from_pretrained(folder).to(device, dtype).eval()
        self.processor = CLIPImageProcessor.from_pretrained(folder)
        if threshold is not None:
            with torch.no_grad():
                self.model.concept_embeds_weights.fill_(threshold)
                self.model.special_care_embeds_weights.fill_(threshold)

    def flags(self, images: list[Image.Image]) -> list[bool]:
        import numpy as np
        import torch

        inputs = self.processor(images=[im.convert("RGB") for im in images], return_tensors="pt")
        pixels = inputs["pixel_values"].to(self.device, self.model.dtype)
        arrays = np.stack([np.asarray(im.convert("RGB"), dtype=np.float32) / 255.0 for im in images])
        with torch.inference_mode():
            _, flagged = self.model(clip_input=pixels, images=arrays)
        return [bool(f) for f in flagged]


class TextSegmenter:
    def __init__(self, folder: Path, device: str, dtype: Any, threshold: float) -> None:
        from transformers import CLIPSegForImageSegmentation, CLIPSegProcessor

        self.device = device
        self.threshold = threshold
        self.model = CLIPSegForImageSegmentation.from_pretrained(folder).to(device, dtype).eval()
        self.processor = CLIPSegProcessor.from_pretrained(folder)

    def probabilities(self, image: Image.Image, text: str) -> Any:
        """Per-pixel probability (numpy, image size) that a pixel belongs to what `text` names."""
        import numpy as np
        import torch

        inputs = self.processor(text=[text], images=[image.convert("RGB")], padding=True, truncation=True,
                                return_tensors="pt").to(self.device)
        inputs["pixel_values"] = inputs["pixel_values"].to(self.model.dtype)
        with torch.inference_mode():
            logits = self.model(**inputs).logits
        probs = torch.sigmoid(logits.reshape(1, 1, *logits.shape[-2:]).float())
        probs = torch.nn.functional.interpolate(probs, size=(image.height, image.width), mode="bilinear")
        return probs[0, 0].cpu().numpy().astype(np.float32)

    def mask(self, image: Image.Image, text: str) -> Image.Image:
        """White where `text` is (to repaint), black elsewhere."""
        import numpy as np

        probs = self.probabilities(image, text)
        return Image.fromarray(np.where(probs >= self.threshold, 255, 0).astype(np.uint8), "L")


class BackgroundRemover:
    def __init__(self, segmenter: TextSegmenter, matting: Path | None, device: str, dtype: Any, subject: str) -> None:
        self.segmenter = segmenter
        self.subject = subject
        self.device = device
        self.model = self.processor = None
        if matting is not None:
            from transformers import VitMatteForImageMatting, VitMatteImageProcessor

            self.model = VitMatteForImageMatting.from_pretrained(matting).to(device, dtype).eval()
            self.processor = VitMatteImageProcessor.from_pretrained(matting)

    def remove(self, image: Image.Image) -> Image.Image:
        """RGBA: the image with an alpha matte (transparent background)."""
        import numpy as np
        import torch

        rgb = image.convert("RGB")
        probs = self.segmenter.probabilities(rgb, self.subject)
        if self.model is None:
            alpha = probs
        else:
            trimap = np.full(probs.shape, 128, np.uint8)
            trimap[probs >= 0.6] = 255
            trimap[probs <= 0.3] = 0
            inputs = self.processor(images=rgb, trimaps=Image.fromarray(trimap, "L"), return_tensors="pt").to(self.device)
            inputs["pixel_values"] = inputs["pixel_values"].to(self.model.dtype)
            with torch.inference_mode():
                alphas = self.model(**inputs).alphas
            alpha = alphas[0, 0, : rgb.height, : rgb.width].float().clamp(0, 1).cpu().numpy()
            alpha = np.where(trimap == 255, 1.0, np.where(trimap == 0, 0.0, alpha))
        out = rgb.copy()
        out.putalpha(Image.fromarray((alpha * 255).round().astype(np.uint8), "L"))
        return out

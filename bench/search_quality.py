"""Search quality on images with known content: recall@1/@5/@10 for text -> image and image -> image.

The evaluation set is generated: colour x shape x background, each image drawn at a seeded random
position and size, with an English and a Japanese caption ("a red circle on a white background" /
「白い背景に赤い丸」). Everything runs through the real pipeline: `index_folder` (scan, decode,
embed, store), the text/image query path of `outcrop search`, the embedded store.

- text -> image: each caption is a query; its one image is the target (recall@k = target in top k).
- image -> image: a perturbed copy of each image (downscaled to 70 %, shifted a few pixels, JPEG
  quality 40) is the query; its original is the target. The copies are not indexed.

Uses the `cpu` profile (a real SigLIP) when its weights are in the local cache, else the `test`
profile, whose model has random weights: then it is a plumbing check only and says so.

    PYTHONPATH=src python bench/search_quality.py [--profile cpu|test]
"""

from __future__ import annotations

import argparse
import io
import tempfile
import time
from pathlib import Path

import numpy as np
from PIL import Image, ImageDraw

COLOURS = {  # English, Japanese (colour adjective), RGB
    "red": ("赤い", (220, 30, 30)), "green": ("緑の", (30, 160, 60)), "blue": ("青い", (30, 60, 210)),
    "yellow": ("黄色い", (240, 210, 20)), "black": ("黒い", (20, 20, 20)), "purple": ("紫の", (130, 40, 160)),
}
SHAPES = {"circle": "丸", "square": "四角", "triangle": "三角", "star": "星"}
BACKGROUNDS = {"white": ("白い", (250, 250, 250)), "grey": ("灰色の", (128, 128, 128)), "light blue": ("水色の", (170, 210, 240))}
KS = (1, 5, 10)


def draw(colour: tuple[int, int, int], shape: str, background: tuple[int, int, int], rng: np.random.Generator) -> Image.Image:
    size = 256
    image = Image.new("RGB", (size, size), background)
    d = ImageDraw.Draw(image)
    r = int(rng.integers(50, 90))
    cx, cy = (int(rng.integers(r + 8, size - r - 8)) for _ in range(2))
    if shape == "circle":
        d.ellipse((cx - r, cy - r, cx + r, cy + r), fill=colour)
    elif shape == "square":
        d.rectangle((cx - r, cy - r, cx + r, cy + r), fill=colour)
    elif shape == "triangle":
        d.polygon([(cx, cy - r), (cx - r, cy + r), (cx + r, cy + r)], fill=colour)
    else:
        angles = np.pi / 2 + np.arange(10) * np.pi / 5
        radii = np.where(np.arange(10) % 2 == 0, r, r * 0.45)
        d.polygon([(cx + float(q) * np.cos(a), cy - float(q) * np.sin(a)) for a, q in zip(angles, radii)], fill=colour)
    return image


def perturb(image: Image.Image, rng: np.random.Generator) -> Image.Image:
    """What a re-saved copy looks like: smaller, slightly shifted, JPEG-recompressed."""
    w, h = image.size
    small = image.resize((int(w * 0.7), int(h * 0.7)), Image.Resampling.BILINEAR)
    dx, dy = (int(v) for v in rng.integers(-6, 7, 2))
    shifted = Image.new("RGB", small.size, small.getpixel((0, 0)))
    shifted.paste(small, (dx, dy))
    buffer = io.BytesIO()
    shifted.save(buffer, "JPEG", quality=40)
    return Image.open(io.BytesIO(buffer.getvalue())).convert("RGB")


def build_set(folder: Path) -> list[tuple[Path, str, str, Image.Image]]:
    """(file, English caption, Japanese caption, perturbed copy) per image."""
    rng = np.random.default_rng(0)
    out = []
    for colour, (colour_ja, rgb) in COLOURS.items():
        for shape, shape_ja in SHAPES.items():
            for bg, (bg_ja, bg_rgb) in BACKGROUNDS.items():
                image = draw(rgb, shape, bg_rgb, rng)
                path = folder / f"{colour}_{shape}_{bg.replace(' ', '-')}.png"
                image.save(path)
                out.append((path, f"a {colour} {shape} on a {bg} background", f"{bg_ja}背景に{colour_ja}{shape_ja}", perturb(image, rng)))
    return out


def recall(ranks: list[int]) -> str:
    return "  ".join(f"R@{k} {np.mean([r < k for r in ranks]):.3f}" for k in KS)


def profile_with_weights(wanted: str | None) -> tuple[str, str]:
    """(profile, why): `cpu` when its embedding weights are already on disk, else `test`."""
    from outcrop.config import Settings
    from outcrop.engines.weights import WeightsMissing, resolve_weights
    from outcrop.registry import load_model_table

    if wanted == "test":
        return "test", "asked for"
    settings = Settings.from_env(profile="cpu")
    entry = None
    try:
        entry = load_model_table("cpu", settings.models_file).resolve("amazon.titan-embed-image-v1")
        resolve_weights(entry, settings.cache_dir, "cpu", download=False)
        return "cpu", f"weights {entry.weights} found locally"
    except WeightsMissing as exc:
        if wanted == "cpu":
            raise SystemExit(f"--profile cpu: {exc}") from exc
        return "test", f"cpu-profile weights not available ({entry.weights if entry else '?'}; fetch with `outcrop pull --profile cpu`)"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--profile", choices=("cpu", "test"), default=None)
    args = parser.parse_args()

    from outcrop.config import Settings
    from outcrop.search.collections import open_collection
    from outcrop.search.embedder import InProcessEmbedder
    from outcrop.search.indexer import index_folder

    profile, why = profile_with_weights(args.profile)
    print(f"profile: {profile} ({why})")
    if profile == "test":
        print("PLUMBING CHECK ONLY: the test profile's model has random weights, so these recalls say the pipeline "
              "runs end to end, not how well search works. Run with the cpu profile's weights for real numbers.")
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp) / "shapes"
        folder.mkdir()
        items = build_set(folder)
        settings = Settings.from_env(profile=profile, data_dir=Path(tmp) / "data")
        with InProcessEmbedder(settings) as embedder:
            store = open_collection("quality", data_dir=settings.data_dir, model_key=embedder.model_key, dimension=embedder.dimension)
            t = time.perf_counter()
            report = index_folder(store, embedder, folder, progress=False)
            print(f"indexed {report.embedded} images in {time.perf_counter() - t:.1f} s with {embedder.model_key}")

            def rank(vector: np.ndarray, target: Path) -> int:
                paths = [h.path for h in store.similar(vector, max(KS))]
                return paths.index(str(target)) if str(target) in paths else max(KS)

            en = [rank(embedder.embed_text(caption), path) for path, caption, _, _ in items]
            ja = [rank(embedder.embed_text(caption), path) for path, _, caption, _ in items]
            copies = embedder.embed_images([copy for _, _, _, copy in items])
            img = [rank(vec, path) for vec, (path, _, _, _) in zip(copies, items)]
            store.close()
    n = len(items)
    print(f"{n} images ({len(COLOURS)} colours x {len(SHAPES)} shapes x {len(BACKGROUNDS)} backgrounds); chance R@1 = {1 / n:.3f}")
    print(f"text->image English  ({n} captions, e.g. '{items[0][1]}'): {recall(en)}")
    print(f"text->image Japanese ({n} captions, e.g. '{items[0][2]}'): {recall(ja)}")
    print(f"image->image (resized 70 %, shifted, JPEG q40 copy -> original): {recall(img)}")


if __name__ == "__main__":
    main()

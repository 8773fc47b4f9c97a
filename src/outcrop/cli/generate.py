"""`outcrop generate` and `outcrop edit`: images from the command line, in-process (with a progress
bar per step) or from `--endpoint` (outcrop or Bedrock). The request bodies and the parsing of the
answers are the SDK's (`outcrop.sdk.image_bodies`), so both ways send what `MultimodalAssistant`
sends and the CLI knows no body format of its own."""

from __future__ import annotations

import argparse
import asyncio
from pathlib import Path
from typing import TYPE_CHECKING, Any

from outcrop.cli.common import add_command, add_profile_flags
from outcrop.cli.output import emit

if TYPE_CHECKING:
    from outcrop.sdk.image_bodies import ImageCall
    from outcrop.sdk.models import ImageFamily
    from outcrop.sdk.results import GeneratedImage

SDXL = "stability.stable-diffusion-xl-v1"
TITAN = "amazon.titan-image-generator-v2:0"
SDXL_DEFAULT_STEPS = 30
EDIT_TASKS = ("inpaint", "outpaint", "remove-background", "variation")
IMAGES_JSON = '{"model_id", "images": [{"path", "seed"}]}'


def _endpoint_flag(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--endpoint", default=None, help="call this bedrock-runtime endpoint instead of running in-process")


def register(subparsers: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    gen = add_command(subparsers, "generate", help="generate images from a prompt (SDXL or Titan/Nova bodies)",
                      description="Generate images and write them as PNGs; prints each path (--json: "
                      f"{IMAGES_JSON}). The seed is in each file name; without --seed one is picked and reported.",
                      examples=["outcrop generate \"a lighthouse at dawn\" --profile test --steps 10",
                                "outcrop generate \"a cafe interior\" -n 2 --seed 42 --out images/ --json",
                                "outcrop generate \"a red car\" --model amazon.nova-canvas-v1:0 --size 1280x720 --style PHOTOREALISM",
                                "outcrop generate \"a red car\" --endpoint http://127.0.0.1:8080"])
    gen.add_argument("prompt")
    gen.add_argument("--negative", default=None, help="negative prompt")
    gen.add_argument("--model", default=SDXL, help=f"model id (default {SDXL})")
    gen.add_argument("--steps", type=int, default=None, help=f"SDXL diffusion steps (default {SDXL_DEFAULT_STEPS}); "
                     "Titan/Nova take --quality instead")
    gen.add_argument("--cfg-scale", type=float, default=None, help="prompt strength (the model's default if not given)")
    gen.add_argument("--seed", type=int, default=None, help="seed (default or 0: random, reported)")
    gen.add_argument("--size", default="1024x1024", help="WxH, one of the model's allowed sizes")
    gen.add_argument("--style", default=None, help="SDXL style_preset or Nova Canvas style")
    gen.add_argument("--quality", choices=["standard", "premium"], default=None, help="Titan/Nova quality")
    gen.add_argument("-n", type=int, default=1, help="number of images (Titan/Nova: 5 a request; SDXL: 1 a request)")
    gen.add_argument("--out", type=Path, default=Path("."), help="folder for the PNGs")
    _endpoint_flag(gen)
    add_profile_flags(gen)
    gen.set_defaults(func=run_generate)

    edit = add_command(subparsers, "edit", help="edit an image: variation, inpaint, outpaint, remove-background",
                       description=f"Edit an image and write the results as PNGs (--json: {IMAGES_JSON}). "
                       "Masks: black pixels are the masked region, which inpaint repaints and outpaint keeps.",
                       examples=["outcrop edit photo.png --task remove-background --profile test",
                                 "outcrop edit photo.png --task inpaint --mask-prompt \"the car\" --prompt \"a red sports car\"",
                                 "outcrop edit photo.png --task outpaint --mask keep.png --prompt \"a beach\" --json",
                                 "outcrop edit photo.png --task variation --similarity 0.9 -n 3 --endpoint http://127.0.0.1:8080"])
    edit.add_argument("image", type=Path)
    edit.add_argument("--task", choices=EDIT_TASKS, required=True)
    edit.add_argument("--prompt", default=None, help="what to paint")
    edit.add_argument("--negative", default=None, help="negative prompt")
    edit.add_argument("--mask", type=Path, default=None, help="mask image (black = inside), same size as IMAGE")
    edit.add_argument("--mask-prompt", default=None, help="describe the area to mask instead of --mask")
    edit.add_argument("--similarity", type=float, default=0.7, help="variation: how much of IMAGE to keep, 0.2..1 (default 0.7)")
    edit.add_argument("--mode", choices=["DEFAULT", "PRECISE"], default="DEFAULT", help="outpaint: PRECISE keeps the mask edge hard")
    edit.add_argument("--model", default=TITAN, help=f"model id (default {TITAN})")
    edit.add_argument("--seed", type=int, default=None, help="seed (default: random, reported)")
    edit.add_argument("-n", type=int, default=1, help="number of images")
    edit.add_argument("--out", type=Path, default=Path("."))
    _endpoint_flag(edit)
    add_profile_flags(edit)
    edit.set_defaults(func=run_edit)


def _size(text: str) -> tuple[int, int]:
    from outcrop.cli import CliError

    try:
        width, height = (int(part) for part in text.lower().split("x"))
    except ValueError:
        raise CliError(f"--size must look like 1024x1024, not {text!r}") from None
    return width, height


def run_generate(args: argparse.Namespace) -> int:
    from outcrop.sdk import image_bodies
    from outcrop.sdk.models import image_family

    family = image_family(args.model)
    steps = args.steps if args.steps is not None or family != "sdxl" else SDXL_DEFAULT_STEPS
    calls = image_bodies.text_to_image(family, args.prompt, negative=args.negative, n=args.n, size=_size(args.size),
                                       steps=steps, cfg_scale=args.cfg_scale, seed=args.seed or None, style=args.style,
                                       quality=args.quality)
    _write(args, _images(args, family, calls), "image")
    return 0


def run_edit(args: argparse.Namespace) -> int:
    from outcrop.cli import CliError
    from outcrop.sdk import image_bodies
    from outcrop.sdk.media import image_size, png_or_jpeg
    from outcrop.sdk.models import image_family

    family = image_family(args.model)
    source = png_or_jpeg(_read_image(args.image))
    width, height = image_size(source)
    if args.task == "remove-background":
        calls = image_bodies.remove_background(family, source, width * height)
    elif args.task == "variation":
        calls = image_bodies.variation(family, [source], prompt=args.prompt, negative=args.negative,
                                       similarity=args.similarity, n=args.n, size=None, seed=args.seed, cfg_scale=None,
                                       quality=None, pixels=width * height)
    else:
        if (args.mask is None) == (args.mask_prompt is None):
            raise CliError("give exactly one of --mask or --mask-prompt")
        mask = png_or_jpeg(_read_image(args.mask)) if args.mask is not None else None
        calls = image_bodies.masked_edit(family, "INPAINTING" if args.task == "inpaint" else "OUTPAINTING", source,
                                         mask=mask, mask_prompt=args.mask_prompt, prompt=args.prompt, negative=args.negative,
                                         n=args.n, seed=args.seed, cfg_scale=None, quality=None, pixels=width * height,
                                         outpainting_mode=args.mode if args.task == "outpaint" else None)
    _write(args, _images(args, family, calls), args.task)
    return 0


def _read_image(path: Path) -> bytes:
    from outcrop.cli import CliError

    if not path.is_file():
        raise CliError(f"no such image file: {path}")
    data = path.read_bytes()
    from outcrop.sdk.media import sniff_image_format

    if sniff_image_format(data) is None:
        raise CliError(f"{path}: not a PNG, JPEG, GIF or WebP image")
    return data


def _images(args: argparse.Namespace, family: ImageFamily, calls: list[ImageCall]) -> list[GeneratedImage]:
    """Each request in-process or at --endpoint; the answers parsed by the SDK."""
    from outcrop.cli.invoke import invoke_json
    from outcrop.sdk import image_bodies

    if args.endpoint:
        payloads = [invoke_json(args, args.model, call.body) for call in calls]
    else:
        payloads = asyncio.run(_in_process(args, [call.body for call in calls]))
    images: list[GeneratedImage] = []
    for payload, call in zip(payloads, calls):
        images += image_bodies.parse_images(family, payload, call)[0]
    return images


async def _in_process(args: argparse.Namespace, bodies: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Each body through the server's own code path (registry → protocol → engine), a tqdm bar per step."""
    from tqdm import tqdm

    from outcrop.cli import CliError
    from outcrop.cli.invoke import LocalRuntime
    from outcrop.cli.quiet import quiet_diffusers
    from outcrop.errors import BedrockError
    from outcrop.protocols.base import INVOKE_MODEL

    replies: list[dict[str, Any]] = []
    quiet_diffusers()
    try:
        async with LocalRuntime(args) as local:
            engine = await local.engine(args.model)
            # On a terminal only (disable=None), and never in --json output's way.
            bar = tqdm(total=0, unit="step", desc="generating", disable=True if args.json else None, leave=False)

            def on_step(step: int, total: int) -> None:
                if bar.total != total:
                    bar.reset(total=total)
                bar.n = step
                bar.refresh()

            engine.step_listener = on_step
            try:
                for body in bodies:
                    replies.append(await local.call(INVOKE_MODEL, args.model, body))
            finally:
                bar.close()
    except BedrockError as exc:
        raise CliError(f"{exc.code}: {exc.message}") from None
    return replies


def _write(args: argparse.Namespace, images: list[GeneratedImage], stem: str) -> None:
    args.out.mkdir(parents=True, exist_ok=True)
    written: list[dict[str, Any]] = []
    for i, image in enumerate(images):
        path = args.out / f"{stem}-{i + 1}{f'-seed{image.seed}' if image.seed is not None else ''}.png"
        path.write_bytes(image.data)
        written.append({"path": str(path), "seed": image.seed})
    emit(args, {"model_id": args.model, "images": written}, "\n".join(str(item["path"]) for item in written))

"""`outcrop generate` and `outcrop edit`: images from the command line, in-process, with a progress bar per step."""

from __future__ import annotations

import argparse
import asyncio
import base64
from pathlib import Path
from typing import Any

from outcrop.cli.common import add_command, add_profile_flags
from outcrop.cli.output import emit

SDXL = "stability.stable-diffusion-xl-v1"
TITAN = "amazon.titan-image-generator-v2:0"
EDIT_TASKS = {"variation": "IMAGE_VARIATION", "inpaint": "INPAINTING", "outpaint": "OUTPAINTING",
              "remove-background": "BACKGROUND_REMOVAL"}
IMAGES_JSON = '{"model_id", "images": [{"path", "seed"}]}'


def register(subparsers: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    gen = add_command(subparsers, "generate", help="generate images from a prompt (SDXL or Titan/Nova bodies)",
                      description="Generate images in-process and write them as PNGs; prints each path (--json: "
                      f"{IMAGES_JSON}).",
                      examples=["outcrop generate \"a lighthouse at dawn\" --profile test --steps 10",
                                "outcrop generate \"a cafe interior\" -n 2 --seed 42 --out images/ --json",
                                "outcrop generate \"a red car\" --model amazon.nova-canvas-v1:0 --size 1280x720"])
    gen.add_argument("prompt")
    gen.add_argument("--negative", default=None, help="negative prompt")
    gen.add_argument("--model", default=SDXL, help=f"model id (default {SDXL})")
    gen.add_argument("--steps", type=int, default=30)
    gen.add_argument("--seed", type=int, default=0, help="0 = random (the seed used is printed)")
    gen.add_argument("--size", default="1024x1024", help="WxH, one of the model's allowed sizes")
    gen.add_argument("-n", type=int, default=1, help="number of images (Titan/Nova: 1..5; SDXL: 1 per call, repeated)")
    gen.add_argument("--out", type=Path, default=Path("."), help="folder for the PNGs")
    add_profile_flags(gen)
    gen.set_defaults(func=run_generate)

    edit = add_command(subparsers, "edit", help="edit an image: variation, inpaint, outpaint, remove-background",
                       description=f"Edit an image in-process and write the results as PNGs (--json: {IMAGES_JSON}). "
                       "Masks: black pixels are the masked region.",
                       examples=["outcrop edit photo.png --task remove-background --profile test",
                                 "outcrop edit photo.png --task inpaint --mask-prompt \"the car\" --prompt \"a red sports car\"",
                                 "outcrop edit photo.png --task outpaint --mask keep.png --prompt \"a beach\" --json"])
    edit.add_argument("image", type=Path)
    edit.add_argument("--task", choices=sorted(EDIT_TASKS), required=True)
    edit.add_argument("--prompt", default=None, help="what to paint")
    edit.add_argument("--mask", type=Path, default=None, help="mask image (black = inside), same size as IMAGE")
    edit.add_argument("--mask-prompt", default=None, help="describe the area to mask instead of --mask")
    edit.add_argument("--model", default=TITAN)
    edit.add_argument("--seed", type=int, default=None)
    edit.add_argument("--out", type=Path, default=Path("."))
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
    width, height = _size(args.size)
    if args.model.startswith("stability."):
        prompts = [{"text": args.prompt, "weight": 1.0}] + ([{"text": args.negative, "weight": -1.0}] if args.negative else [])
        bodies = [{"text_prompts": prompts, "steps": args.steps, "seed": args.seed + i if args.seed else 0,
                   "width": width, "height": height} for i in range(args.n)]
    else:
        params = {"text": args.prompt, **({"negativeText": args.negative} if args.negative else {})}
        config: dict[str, Any] = {"numberOfImages": args.n, "width": width, "height": height}
        if args.seed:
            config["seed"] = args.seed
        bodies = [{"taskType": "TEXT_IMAGE", "textToImageParams": params, "imageGenerationConfig": config}]
    _write(args, asyncio.run(_run(args, args.model, bodies)), "image")
    return 0


def run_edit(args: argparse.Namespace) -> int:
    from outcrop.cli import CliError

    if not args.image.is_file():
        raise CliError(f"no such image file: {args.image}")
    task = EDIT_TASKS[args.task]
    image = base64.b64encode(args.image.read_bytes()).decode()
    if task == "BACKGROUND_REMOVAL":
        body: dict[str, Any] = {"taskType": task, "backgroundRemovalParams": {"image": image}}
    elif task == "IMAGE_VARIATION":
        body = {"taskType": task, "imageVariationParams": {"images": [image], **({"text": args.prompt} if args.prompt else {})}}
    else:
        if (args.mask is None) == (args.mask_prompt is None):
            raise CliError("give exactly one of --mask or --mask-prompt")
        params: dict[str, Any] = {"image": image}
        if args.prompt:
            params["text"] = args.prompt
        if args.mask is not None:
            params["maskImage"] = base64.b64encode(args.mask.read_bytes()).decode()
        else:
            params["maskPrompt"] = args.mask_prompt
        body = {"taskType": task, ("inPaintingParams" if task == "INPAINTING" else "outPaintingParams"): params}
    if args.seed is not None and task != "BACKGROUND_REMOVAL":
        body["imageGenerationConfig"] = {"seed": args.seed}
    _write(args, asyncio.run(_run(args, args.model, [body])), args.task)
    return 0


async def _run(args: argparse.Namespace, model_id: str, bodies: list[dict[str, Any]]) -> list[tuple[bytes, int | None]]:
    """Each body through the server's own code path (registry → protocol → engine), a tqdm bar per step."""
    from tqdm import tqdm

    from outcrop.cli import CliError
    from outcrop.cli.invoke import LocalRuntime
    from outcrop.cli.quiet import quiet_diffusers
    from outcrop.errors import BedrockError
    from outcrop.protocols.base import INVOKE_MODEL

    images: list[tuple[bytes, int | None]] = []
    quiet_diffusers()
    try:
        async with LocalRuntime(args) as local:
            engine = await local.engine(model_id)
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
                    reply = await local.call(INVOKE_MODEL, model_id, body)
                    if "artifacts" in reply:
                        images += [(base64.b64decode(a["base64"]), a["seed"]) for a in reply["artifacts"]]
                    else:
                        images += [(base64.b64decode(i), None) for i in reply["images"]]
            finally:
                bar.close()
    except BedrockError as exc:
        raise CliError(f"{exc.code}: {exc.message}") from None
    return images


def _write(args: argparse.Namespace, images: list[tuple[bytes, int | None]], stem: str) -> None:
    args.out.mkdir(parents=True, exist_ok=True)
    written = []
    for i, (data, seed) in enumerate(images):
        path = args.out / f"{stem}-{i + 1}{f'-seed{seed}' if seed is not None else ''}.png"
        path.write_bytes(data)
        written.append({"path": str(path), "seed": seed})
    emit(args, {"model_id": args.model, "images": written}, "\n".join(item["path"] for item in written))

"""`outcrop generate` and `outcrop edit`: images from the command line, as thin layers over the SDK's
`generate_images`, `vary_image`, `inpaint`, `outpaint` and `remove_background`, in-process (with a
progress bar per step) or at `--endpoint` (outcrop or Bedrock). The CLI knows no body format of its
own, so both ways send what `MultimodalAssistant` sends and the same seed gives the same image."""

from __future__ import annotations

import argparse
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Any

from outcrop.cli.common import add_command, add_profile_flags
from outcrop.cli.output import emit

if TYPE_CHECKING:
    from outcrop.cli.assistant import Session
    from outcrop.sdk.results import ImageResult

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
    from outcrop.cli.assistant import session
    from outcrop.sdk.models import image_family

    steps = args.steps if args.steps is not None or image_family(args.model) != "sdxl" else SDXL_DEFAULT_STEPS
    size = _size(args.size)
    with session(args) as s, _progress(args, s):
        result = s.assistant.generate_images(args.prompt, n=args.n, size=size, steps=steps, cfg_scale=args.cfg_scale,
                                             seed=args.seed or None, style=args.style, negative_prompt=args.negative,
                                             quality=args.quality, model=args.model)
    _write(args, result, "image")
    return 0


def run_edit(args: argparse.Namespace) -> int:
    from outcrop.cli import CliError
    from outcrop.cli.assistant import read_image, session

    source = read_image(args.image)
    masked = args.task in ("inpaint", "outpaint")
    if masked and (args.mask is None) == (args.mask_prompt is None):
        raise CliError("give exactly one of --mask or --mask-prompt")
    mask = read_image(args.mask) if masked and args.mask is not None else None
    with session(args) as s, _progress(args, s):
        sdk = s.assistant
        common: dict[str, Any] = {"n": args.n, "seed": args.seed, "negative_prompt": args.negative, "model": args.model}
        if args.task == "remove-background":
            result = sdk.remove_background(source, model=args.model)
        elif args.task == "variation":
            result = sdk.vary_image(source, args.prompt, similarity=args.similarity, **common)
        elif args.task == "inpaint":
            result = sdk.inpaint(source, mask, args.mask_prompt, prompt=args.prompt, **common)
        else:
            if args.prompt is None:
                raise CliError("outpaint needs --prompt: what to paint around the kept region")
            result = sdk.outpaint(source, mask, args.mask_prompt, prompt=args.prompt, mode=args.mode, **common)
    _write(args, result, args.task)
    return 0


@contextmanager
def _progress(args: argparse.Namespace, s: Session) -> Iterator[None]:
    """In-process, a tqdm bar per diffusion step (on a terminal only, never in --json output's way);
    the model loads here, before the SDK's first request."""
    if s.local is None:
        yield
        return
    from tqdm import tqdm

    from outcrop.cli.quiet import quiet_diffusers

    quiet_diffusers()
    engine = s.local.engine(args.model)
    bar = tqdm(total=0, unit="step", desc="generating", disable=True if args.json else None, leave=False)

    def on_step(step: int, total: int) -> None:
        if bar.total != total:
            bar.reset(total=total)
        bar.n = step
        bar.refresh()

    engine.step_listener = on_step
    try:
        yield
    finally:
        engine.step_listener = None
        bar.close()


def _write(args: argparse.Namespace, result: ImageResult, stem: str) -> None:
    args.out.mkdir(parents=True, exist_ok=True)
    written: list[dict[str, Any]] = []
    for i, image in enumerate(result.images):
        path = args.out / f"{stem}-{i + 1}{f'-seed{image.seed}' if image.seed is not None else ''}.png"
        path.write_bytes(image.data)
        written.append({"path": str(path), "seed": image.seed})
    emit(args, {"model_id": result.model_id, "images": written}, "\n".join(str(item["path"]) for item in written))

"""The `outcrop` command line as users run it: help without torch, `embed`, `pull`, and what a missing
download says when the hub is offline."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import boto3
import pytest
from botocore.config import Config

from outcrop.config import Settings
from outcrop.server.app import build_app
from servers import ThreadServer

MODEL = "amazon.titan-embed-image-v1"
MISSING_REPO = "outcrop-tests/no-such-siglip"


def outcrop(*args: str, env: dict[str, str] | None = None, timeout: float = 300) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "outcrop", *args], capture_output=True, text=True, timeout=timeout,
        env={**os.environ, **(env or {})},
    )


@pytest.mark.parametrize("argv", [["--help"], ["serve", "--help"], ["embed", "--help"], ["pull", "--help"], ["--version"]])
def test_help_does_not_import_torch(argv: list[str]) -> None:
    code = (
        "import sys\nfrom outcrop.cli import main\n"
        f"try:\n    main({argv!r})\nexcept SystemExit:\n    pass\n"
        "heavy = sorted(m for m in ('torch', 'transformers', 'diffusers', 'PIL', 'fastapi') if m in sys.modules)\n"
        "print('HEAVY=' + ','.join(heavy))\n"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip().splitlines()[-1] == "HEAVY=", result.stdout
    if argv == ["--help"]:
        assert all(command in result.stdout for command in ("serve", "pull", "embed"))


def test_embed_prints_1024_floats() -> None:
    result = outcrop("embed", "--profile", "test", "--text", "夕日の山")
    assert result.returncode == 0, result.stderr
    body = json.loads(result.stdout)
    assert len(body["embedding"]) == 1024 and all(isinstance(x, float) for x in body["embedding"])
    assert body["inputTextTokenCount"] > 0


def test_embed_dimensions_and_bad_input() -> None:
    result = outcrop("embed", "--profile", "test", "--text", "a red car", "--dimensions", "256")
    assert result.returncode == 0, result.stderr
    assert len(json.loads(result.stdout)["embedding"]) == 256
    missing = outcrop("embed", "--profile", "test")
    assert missing.returncode == 1 and "give --text, --image or both" in missing.stderr


def test_pull_builds_the_tiny_models(tmp_path: Path) -> None:
    cache = tmp_path / "cache"
    result = outcrop("pull", "--profile", "test", "--cache-dir", str(cache))
    assert result.returncode == 0, result.stderr
    assert "builtin:tiny-siglip" in result.stdout and "weight sets ready" in result.stdout
    built = list(cache.glob("builtin/*/tiny-siglip/.complete"))
    assert len(built) == 1
    assert list(built[0].parent.glob("*.safetensors"))
    again = outcrop("pull", "--profile", "test", "--cache-dir", str(cache))
    assert again.returncode == 0 and built[0].exists()


def missing_weights_file(folder: Path) -> Path:
    path = folder / "models.toml"
    path.write_text(
        f'[models."{MODEL}"]\nprotocol = "titan-embed-image"\nengine = "embedding"\nweights = "{MISSING_REPO}"\ndevice = "cpu"\n'
    )
    return path


def test_offline_missing_weights_names_outcrop_pull_over_the_wire(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    monkeypatch.setenv("HF_HOME", str(tmp_path / "hf"))
    settings = Settings.from_env(profile="test", models_file=missing_weights_file(tmp_path))
    with ThreadServer(build_app(settings)) as server:
        client = boto3.client("bedrock-runtime", endpoint_url=server.url, config=Config(retries={"total_max_attempts": 1}))
        with pytest.raises(client.exceptions.ResourceNotFoundException) as raised:
            client.invoke_model(modelId=MODEL, body=json.dumps({"inputText": "x"}))
    assert raised.value.response["ResponseMetadata"]["HTTPStatusCode"] == 404
    message = raised.value.response["Error"]["Message"]
    assert MODEL in message and MISSING_REPO in message and "outcrop pull --profile test" in message
    assert "offline" in message


def test_offline_pull_fails_clearly(tmp_path: Path) -> None:
    result = outcrop(
        "pull", "--profile", "test", "--models", str(missing_weights_file(tmp_path)), "--cache-dir", str(tmp_path / "c"),
        env={"HF_HUB_OFFLINE": "1", "HF_HOME": str(tmp_path / "hf")},
    )
    assert result.returncode == 1
    assert MISSING_REPO in result.stdout and "not in the local cache" in result.stdout
    # Only the overridden entry fails; every other weight set of the profile is still built.
    built = result.stdout.count("  ok: ")
    assert f"1 of {built + 1} weight sets could not be fetched" in result.stderr
    assert "Traceback" not in result.stderr


def test_offline_embed_with_missing_weights_names_outcrop_pull(tmp_path: Path) -> None:
    result = outcrop(
        "embed", "--profile", "test", "--models", str(missing_weights_file(tmp_path)), "--text", "x",
        env={"HF_HUB_OFFLINE": "1", "HF_HOME": str(tmp_path / "hf")},
    )
    assert result.returncode == 1
    last = result.stderr.strip().splitlines()[-1]
    assert last.startswith("outcrop: ResourceNotFoundException: ") and "outcrop pull --profile test" in last, result.stderr
    assert "Traceback" not in result.stderr


def test_offline_pull_of_a_real_profile_names_every_companion_repo(tmp_path: Path) -> None:
    """`outcrop pull --profile gpu` must fetch the ControlNets, segmenters and safety checker the image
    engine loads beside SDXL, or the server would fail offline after a pull. Offline, every one is named."""
    result = outcrop("pull", "--profile", "gpu", env={"HF_HUB_OFFLINE": "1", "HF_HOME": str(tmp_path / "hf")})
    assert result.returncode == 1
    for repo in (
        "stabilityai/stable-diffusion-xl-base-1.0", "diffusers/controlnet-canny-sdxl-1.0",
        "diffusers/stable-diffusion-xl-1.0-inpainting-0.1", "CIDAS/clipseg-rd64-refined",
        "hustvl/vitmatte-small-composition-1k", "CompVis/stable-diffusion-safety-checker",
        "Qwen/Qwen2.5-VL-7B-Instruct", "google/siglip2-large-patch16-384",
    ):
        assert f"{repo} (for " in result.stdout, repo
    assert result.stdout.count("CIDAS/clipseg-rd64-refined (for ") == 1  # shared repos fetched once
    assert "outcrop pull --profile gpu" in result.stdout and "Traceback" not in result.stderr

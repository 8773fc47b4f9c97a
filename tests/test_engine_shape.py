"""The shape between protocols and engines: typed engine interfaces (checked by mypy and at load),
refusals worded by protocols from what engines report, and registration by entry points, so a model
family can ship as a separate package."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
import tomllib
from pathlib import Path

import pytest
from botocore.exceptions import ClientError

from conftest import make_client
from images import b64, image_bytes, shape_image
from servers import FAULT_ENGINE, ServerProcess, ThreadServer

ROOT = Path(__file__).resolve().parents[1]
SRC = ROOT / "src"


def test_pyproject_entry_points_are_the_builtin_tables() -> None:
    """The built-ins register as entry points too; the tables in the code are the fallback of a source tree
    whose distribution metadata predates them, and the two must never drift."""
    from outcrop.engines import ENGINE_CLASSES
    from outcrop.protocols import PROTOCOL_CLASSES

    points = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["entry-points"]
    assert points["outcrop.engines"] == ENGINE_CLASSES
    assert points["outcrop.protocols"] == PROTOCOL_CLASSES


def test_the_fault_engine_is_not_in_the_production_registry() -> None:
    from outcrop.engines import ENGINES, engine_class
    from outcrop.registry import load_model_table

    assert "fault" not in ENGINES.names()
    assert not any("testing" in reference for reference in ENGINES.names().values())
    for profile in ("test", "cpu", "gpu"):
        assert {entry.engine for entry in load_model_table(profile)} <= set(ENGINES.names())
    with pytest.raises(ValueError, match="unknown engine 'fault'"):
        engine_class("fault")
    assert engine_class(FAULT_ENGINE).__name__ == "FaultEngine"  # a --models file names it by reference


def test_a_protocol_paired_with_another_kind_of_engine_fails_at_load(tmp_path: Path) -> None:
    from outcrop.registry import load_model_table
    from outcrop.runtime import check_options

    path = tmp_path / "models.toml"
    path.write_text('[models."acme.chat-v1"]\nprotocol = "converse"\nuses = "embeddings"\n')
    table = load_model_table("test", path)
    with pytest.raises(ValueError, match="protocol 'converse' calls a ChatModel engine, and engine 'embedding' offers Embedder"):
        check_options(table)
    check_options(load_model_table("test"))  # every shipped pairing is right


_CONFORMANCE = """
from outcrop.engines.diffusion import DiffusionEngine
from outcrop.engines.embedding import EmbeddingEngine
from outcrop.engines.sd3 import SD3Engine
from outcrop.engines.text_embedding import TextEmbeddingEngine
from outcrop.engines.vlm import VisionChatEngine
from outcrop.tasks.chat import ChatModel
from outcrop.tasks.embedding import Embedder
from outcrop.tasks.image_generation import ImageGenerator
from outcrop.tasks.text_embedding import TextEmbedder

chat: type[ChatModel] = VisionChatEngine
embed: type[Embedder] = EmbeddingEngine
sdxl: type[ImageGenerator] = DiffusionEngine
sd3: type[ImageGenerator] = SD3Engine
text: type[TextEmbedder] = TextEmbeddingEngine
"""


def _mypy(sources: dict[str, str], folder: Path) -> subprocess.CompletedProcess[str]:
    """One mypy run over every module of `sources` (name -> text): it analyses the engines' imports
    (torch, transformers, diffusers) once, which is most of its time."""
    paths = [folder / f"{name}.py" for name in sources]
    for path, source in zip(paths, sources.values()):
        path.write_text(source)
    return subprocess.run(
        [sys.executable, "-m", "mypy", "--strict", "--follow-imports=silent", "--no-incremental", *map(str, paths)],
        capture_output=True, text=True, timeout=300, env={**os.environ, "MYPYPATH": str(SRC)}, cwd=ROOT,
    )


def test_engines_implement_the_interfaces_they_declare(tmp_path: Path) -> None:
    """Structural, by mypy: each built-in engine class is a valid value of its task kind's interface, and
    the check is real (an embedding engine is not a chat model)."""
    from outcrop.engines import ENGINE_CLASSES, engine_class

    done = _mypy({"conformance": _CONFORMANCE,
                  "conformance_wrong": _CONFORMANCE + "\nnot_chat: type[ChatModel] = EmbeddingEngine\n"}, tmp_path)
    errors = [line for line in done.stdout.splitlines() if ": error:" in line]
    assert done.returncode == 1, done.stdout + done.stderr
    assert len(errors) == 1 and "conformance_wrong.py:" in errors[0], done.stdout  # the right module passes
    assert 'variable has type "type[ChatModel]"' in errors[0]
    declared = {name: [i.__name__ for i in engine_class(name).interfaces] for name in ENGINE_CLASSES}
    assert declared == {"embedding": ["Embedder"], "text-embedding": ["TextEmbedder"], "vision-chat": ["ChatModel"],
                        "diffusion": ["ImageGenerator"], "sd3": ["ImageGenerator"]}


# -- a model family shipped as its own package -------------------------------------------------------
_PLUGIN = '''
"""A model family outside outcrop: a protocol over any image-text embedder, and an engine subclass."""
import json

from outcrop.engines.embedding import EmbeddingEngine
from outcrop.protocols.base import INVOKE_MODEL, InvokeContext, InvokeReply, Protocol
from outcrop.tasks.embedding import Embedder, EmbedTask


class AcmeEngine(EmbeddingEngine):
    """The built-in embedder under the family's own engine name."""


class AcmeSize(Protocol[Embedder]):
    name = "acme-size"
    engine_interface = Embedder
    operations = frozenset({INVOKE_MODEL})

    async def invoke_model(self, ctx: InvokeContext[Embedder]) -> InvokeReply:
        text = json.loads(ctx.body)["text"]
        engine = await ctx.engine()
        vector = (await engine.embed(EmbedTask(text=text, dimensions=256))).vector
        body = {"tokens": engine.count_tokens(text), "dimensions": engine.limits.dimensions, "length": len(vector)}
        return InvokeReply(body=json.dumps(body).encode())
'''


@pytest.fixture(scope="module")
def plugin_server(tmp_path_factory: pytest.TempPathFactory):  # type: ignore[no-untyped-def]
    """`outcrop serve` with a separately installed distribution (a module and its dist-info on the path)
    whose entry points add a protocol and an engine."""
    site = tmp_path_factory.mktemp("site")
    (site / "acme_family.py").write_text(_PLUGIN)
    info = site / "acme_family-0.1.dist-info"
    info.mkdir()
    (info / "METADATA").write_text("Metadata-Version: 2.1\nName: acme-family\nVersion: 0.1\n")
    (info / "entry_points.txt").write_text(textwrap.dedent("""\
        [outcrop.engines]
        acme-embedding = acme_family:AcmeEngine

        [outcrop.protocols]
        acme-size = acme_family:AcmeSize
        """))
    models = site / "models.toml"
    models.write_text('[models."acme.size-v1"]\nprotocol = "acme-size"\nengine = "acme-embedding"\n'
                      'weights = "builtin:tiny-siglip"\ndtype = "float32"\ndevice = "cpu"\n')
    path = os.pathsep.join(p for p in (str(site), str(SRC), os.environ.get("PYTHONPATH", "")) if p)
    server = ServerProcess("--profile", "test", "--models", str(models), env={"PYTHONPATH": path}).start()
    yield server
    server.stop()


def test_a_separate_package_registers_a_protocol_and_an_engine_by_entry_points(plugin_server: ServerProcess) -> None:
    client = make_client(plugin_server.url)
    answer = json.loads(client.invoke_model(modelId="acme.size-v1", body=json.dumps({"text": "a red car"}))["body"].read())
    assert answer["tokens"] > 0 and answer["dimensions"] > 0 and answer["length"] == 256
    # The built-in families are still served beside it.
    built_in = client.invoke_model(modelId="amazon.titan-embed-image-v1", body=json.dumps({"inputText": "a red car"}))
    assert len(json.loads(built_in["body"].read())["embedding"]) == 1024


# -- refusals worded by protocols from what engines report ----------------------------------------------
def _refused(call) -> str:  # type: ignore[no-untyped-def]
    with pytest.raises(ClientError) as caught:
        call()
    assert caught.value.response["Error"]["Code"] == "ValidationException"
    assert caught.value.response["ResponseMetadata"]["HTTPStatusCode"] == 400
    return str(caught.value.response["Error"]["Message"])


def test_a_text_over_the_embedders_token_limit_is_refused_in_titans_words(bedrock_no_retry) -> None:
    body = json.dumps({"inputText": "word " * 300})
    message = _refused(lambda: bedrock_no_retry.invoke_model(modelId="amazon.titan-embed-image-v1", body=body))
    assert message.startswith("Malformed input request: input text is ")
    assert message.endswith("tokens long, over this model's limit of 128 tokens. Shorten inputText and try again.")


def test_a_prompt_past_the_context_window_is_refused_before_any_stream(bedrock_no_retry) -> None:
    """The chat engine raises its neutral LimitExceeded once the prompt is tokenized; Converse and
    ConverseStream answer Bedrock's ValidationException, before a stream starts."""
    messages = [{"role": "user", "content": [{"text": "lorem ipsum dolor sit amet " * 900}]}]
    config = {"maxTokens": 512}
    for call in (bedrock_no_retry.converse, bedrock_no_retry.converse_stream):
        message = _refused(lambda call=call: call(modelId="amazon.nova-lite-v1:0", messages=messages, inferenceConfig=config))
        assert message.startswith("Input is too long for this model: ")
        assert "prompt tokens (images included) plus maxTokens 512 exceed its context window of 4096 tokens." in message


@pytest.fixture(scope="module")
def sd3_for_everything(tmp_path_factory: pytest.TempPathFactory):  # type: ignore[no-untyped-def]
    """Titan, Nova Canvas and SDXL bodies over the SD3 engine, which reports txt2img and img2img only."""
    toml = "".join(f'[models."{model}"]\nprotocol = "{protocol}"\nuses = "sd3"\n\n' for model, protocol in (
        ("acme.titan-on-sd3-v1", "titan-image-v2"), ("acme.sdxl-on-sd3-v1", "stability-sdxl")))
    with ThreadServer.for_profile("test", toml, tmp_path_factory.mktemp("sd3")) as server:
        yield make_client(server.url, retries={"max_attempts": 1})


def test_what_the_image_engine_lacks_is_refused_by_the_protocol(sd3_for_everything) -> None:
    client = sd3_for_everything
    image = b64(image_bytes(shape_image(size=(64, 64))))
    refusals = {
        "BACKGROUND_REMOVAL": ({"taskType": "BACKGROUND_REMOVAL", "backgroundRemovalParams": {"image": image}},
                               "This model has no segmentation model configured for BACKGROUND_REMOVAL."),
        "CANNY_EDGE": ({"taskType": "TEXT_IMAGE", "textToImageParams": {"text": "a car", "conditionImage": image},
                        "imageGenerationConfig": {"width": 512, "height": 512}},
                       "This model has no CANNY control model configured."),
        "maskPrompt": ({"taskType": "INPAINTING", "inPaintingParams": {"image": image, "maskPrompt": "the car"}},
                       "This model has no segmentation model configured for maskPrompt; send maskImage."),
    }
    for body, expected in refusals.values():
        assert _refused(lambda body=body: client.invoke_model(modelId="acme.titan-on-sd3-v1", body=json.dumps(body))) == expected
    sdxl = {"text_prompts": [{"text": "a car"}], "sampler": "K_EULER"}
    message = _refused(lambda: client.invoke_model(modelId="acme.sdxl-on-sd3-v1", body=json.dumps(sdxl)))
    assert message == "The model that serves this id here does not offer the requested sampler."
    del sdxl["sampler"]
    answer = json.loads(client.invoke_model(modelId="acme.sdxl-on-sd3-v1", body=json.dumps(sdxl))["body"].read())
    assert answer["result"] == "success" and len(answer["artifacts"]) == 1

"""The Python SDK (`outcrop.MultimodalAssistant`): every method against the served `test` profile
through real boto3; the same calls against botocore's Stubber loaded with Bedrock's documented
response shapes (so the SDK works against Bedrock itself); retries against a server that throttles;
the seed's application run with its class swapped for the SDK's."""

from __future__ import annotations

import base64
import io
import json
import re
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import boto3
import pytest
from botocore.stub import Stubber
from PIL import Image
from pydantic import BaseModel

from outcrop import MultimodalAssistant
from outcrop.sdk import (
    PRICES,
    AssistantError,
    BedrockServiceError,
    Document,
    ExtractionError,
    ImagePrice,
    ModelTimeoutError,
    SearchFailedError,
    ThrottlingError,
    TokenPrice,
    UnsupportedModelError,
    UnsupportedOptionError,
    ValidationError,
)
from outcrop.server.eventstream import CONTENT_TYPE, event_frame
from seed.assistant_app import SEED_APP, class_only, with_sdk_import
from servers import ServerProcess, ThreadServer, free_port

TITAN = "amazon.titan-image-generator-v2:0"
NOVA = "amazon.nova-canvas-v1:0"
NOVA_LITE = "amazon.nova-lite-v1:0"


def png(size: tuple[int, int] = (320, 320), color: str = "teal", mode: str = "RGB") -> bytes:
    image = Image.new(mode, size, color)
    image.paste((240, 200, 30), (size[0] // 4, size[1] // 4, size[0] // 2, size[1] // 2))
    buffer = io.BytesIO()
    image.save(buffer, format="PNG")
    return buffer.getvalue()


def mask_png(size: tuple[int, int] = (320, 320)) -> bytes:
    """Titan's convention: black is the masked region."""
    image = Image.new("RGB", size, "white")
    image.paste((0, 0, 0), (size[0] // 4, size[1] // 4, size[0] // 2, size[1] // 2))
    buffer = io.BytesIO()
    image.save(buffer, format="PNG")
    return buffer.getvalue()


def pdf_bytes() -> bytes:
    buffer = io.BytesIO()
    Image.open(io.BytesIO(png((200, 120)))).save(buffer, format="PDF")
    return buffer.getvalue()


class Recorder:
    """The parameters of every call a boto3 client makes, as the caller passed them."""

    def __init__(self, client: Any) -> None:
        self.calls: list[tuple[str, dict[str, Any]]] = []
        client.meta.events.register("provide-client-params.bedrock-runtime.*", self._record)

    def _record(self, params: dict[str, Any], model: Any, **_: Any) -> None:
        self.calls.append((model.name, dict(params)))

    def bodies(self) -> list[dict[str, Any]]:
        return [json.loads(p["body"]) for name, p in self.calls if name == "InvokeModel"]


@pytest.fixture(scope="module")
def assistant(server: ServerProcess) -> MultimodalAssistant:
    """Built from nothing: AWS_ENDPOINT_URL_BEDROCK_RUNTIME (set by the server fixture) decides."""
    return MultimodalAssistant()


# -- the seed ---------------------------------------------------------------------------------------
def test_seed_application_runs_with_the_import_swapped(server: ServerProcess) -> None:
    scope: dict[str, Any] = {}
    exec(compile(with_sdk_import(SEED_APP), "seed_app_with_sdk", "exec"), scope)
    assert scope["MultimodalAssistant"] is MultimodalAssistant
    image, analysis = scope["image"], scope["analysis"]
    assert isinstance(image, bytes) and image.startswith(b"\x89PNG") and Image.open(io.BytesIO(image)).size == (1024, 1024)
    assert isinstance(analysis, str)


def test_seed_methods_send_the_seeds_own_requests(server: ServerProcess) -> None:
    """The SDK's generate_image/analyze_image send what the seed's class sends (plus the seed the
    SDK picks, so the image can be made again)."""
    scope: dict[str, Any] = {}
    exec(compile(class_only(), "seed_class", "exec"), scope)
    seed_assistant, sdk_assistant = scope["MultimodalAssistant"](), MultimodalAssistant()
    seed_calls, sdk_calls = Recorder(seed_assistant.client), Recorder(sdk_assistant.client)
    for who in (seed_assistant, sdk_assistant):
        image = who.generate_image("a cafe", "blurry")
        assert isinstance(who.analyze_image(image, "style?"), str)
    sdk_body, seed_body = sdk_calls.bodies()[0], seed_calls.bodies()[0]
    assert isinstance(sdk_body.pop("seed"), int)
    assert sdk_body == seed_body
    seed_converse = [p for name, p in seed_calls.calls if name == "Converse"][0]
    sdk_converse = [p for name, p in sdk_calls.calls if name == "Converse"][0]
    assert sdk_converse["modelId"] == seed_converse["modelId"]
    assert sdk_converse["messages"][0]["content"][1] == seed_converse["messages"][0]["content"][1]
    assert sdk_converse["messages"][0]["content"][0]["image"]["format"] == "png"


def test_import_outcrop_stays_cheap() -> None:
    code = ("import sys, outcrop; heavy = [m for m in ('boto3', 'botocore', 'torch', 'PIL', 'numpy') if m in sys.modules]; "
            "assert not heavy, heavy; from outcrop import MultimodalAssistant; assert 'boto3' in sys.modules; "
            "assert 'torch' not in sys.modules")
    subprocess.run([sys.executable, "-c", code], check=True)
    import outcrop

    with pytest.raises(AttributeError):
        outcrop.NoSuchThing  # noqa: B018
    assert (Path(outcrop.__file__).parent / "sdk" / "py.typed").is_file()


# -- image generation and editing against the test profile -----------------------------------------
def test_generate_images_sdxl(assistant: MultimodalAssistant) -> None:
    result = assistant.generate_images("a lighthouse", n=2, size="1024x1024", steps=10, cfg_scale=5, seed=7,
                                       style="anime", negative_prompt="fog")
    assert result.model_id == "stability.stable-diffusion-xl-v1" and result.seed == 7
    assert [i.seed for i in result.images] == [7, 8] and {i.finish_reason for i in result.images} == {"SUCCESS"}
    assert result.image.size == (1024, 1024) and result.data.startswith(b"\x89PNG")
    assert result.usage.images == 2 and result.usage.steps == 20 and result.latency_s > 0 and len(result.request_ids) == 2
    again = assistant.generate_images("a lighthouse", n=1, size=(1024, 1024), steps=10, cfg_scale=5, seed=7,
                                      style="anime", negative_prompt="fog")
    assert again.data == result.data  # same seed, same body, same bytes


def test_generate_images_titan_and_nova(assistant: MultimodalAssistant) -> None:
    titan = assistant.generate_images("a lighthouse", n=2, size=(512, 512), seed=3, cfg_scale=6, model=TITAN)
    assert len(titan.images) == 2 and titan.images[0].image.size == (512, 512) and titan.seed == 3
    picked = assistant.generate_images("a lighthouse", size=(320, 704), model=NOVA, style="PHOTOREALISM", quality="premium")
    assert isinstance(picked.seed, int) and picked.images[0].seed == picked.seed and picked.image.size == (320, 704)
    with pytest.raises(UnsupportedOptionError):
        assistant.generate_images("x", model=TITAN, steps=30)
    with pytest.raises(UnsupportedOptionError):
        assistant.generate_images("x", model=TITAN, style="anime")
    with pytest.raises(UnsupportedModelError):
        assistant.generate_images("x", model="stability.sd3-large-v1:0")


def test_edits(assistant: MultimodalAssistant, tmp_path: Path) -> None:
    source = tmp_path / "photo.png"
    source.write_bytes(png())
    pil = Image.open(source)
    varied = assistant.vary_image([source, png(color="navy")], "at night", similarity=0.5, n=2, size=(512, 512), seed=1)
    assert len(varied.images) == 2 and varied.image.size == (512, 512) and varied.model_id == TITAN
    painted = assistant.inpaint(pil, mask_png(), prompt="a red car", seed=2)
    assert painted.image.size == (320, 320)
    by_words = assistant.inpaint(source.read_bytes(), mask_prompt="yellow square", prompt="a red car")
    assert by_words.image.size == (320, 320)
    out = assistant.outpaint(source, mask_png(), prompt="a beach", mode="PRECISE", model=NOVA)
    assert out.image.size == (320, 320) and out.model_id == NOVA
    cut = assistant.remove_background(str(source))
    assert cut.image.mode == "RGBA" and cut.usage.images == 1
    sdxl = assistant.vary_image(png((1024, 1024)), "at night", similarity=0.6, model="stability.stable-diffusion-xl-v1")
    assert sdxl.image.size == (1024, 1024) and sdxl.images[0].finish_reason == "SUCCESS"
    with pytest.raises(ValueError):
        assistant.inpaint(source, mask_png(), mask_prompt="both", prompt="x")
    with pytest.raises(UnsupportedOptionError):
        assistant.remove_background(source, model="amazon.titan-image-generator-v1")


def test_bedrock_errors_become_sdk_errors(assistant: MultimodalAssistant) -> None:
    with pytest.raises(ValidationError) as info:
        assistant.generate_images("x", size=(512, 512))  # not an SDXL size
    error = info.value
    assert error.code == "ValidationException" and error.status == 400 and error.request_id
    assert "512x512" in error.message and error.model_id == "stability.stable-diffusion-xl-v1"
    assert isinstance(error, BedrockServiceError) and not error.retryable and error.__cause__ is error.client_error
    with pytest.raises(ValidationError, match="model identifier is invalid") as unknown:  # as Bedrock answers it
        assistant.embed_text("x", model="amazon.no-such-model-v9")
    assert unknown.value.request_id and unknown.value.request_id != error.request_id


# -- vision ----------------------------------------------------------------------------------------
def test_ask_describe_compare(assistant: MultimodalAssistant, tmp_path: Path) -> None:
    notes = tmp_path / "notes.txt"
    notes.write_text("Shop opening hours: 9 to 17.")
    answer = assistant.ask("What do these show?", images=[png(), Image.open(io.BytesIO(png(color="red")))],
                           documents=[notes, pdf_bytes(), Document(b"a,b\n1,2\n", "csv", "table")],
                           system="Be brief.", max_tokens=12, temperature=0.2, model=NOVA_LITE)
    assert isinstance(answer.text, str) and answer.model_id == NOVA_LITE and answer.stop_reason in ("end_turn", "max_tokens")
    assert 0 < answer.usage.output_tokens <= 12 and answer.usage.input_tokens > 0 and answer.usage.input_images == 2
    assert answer.request_id and answer.latency_s > 0 and str(answer) == answer.text
    described = assistant.describe(png(), max_tokens=8)
    assert described.model_id == "anthropic.claude-3-sonnet-20240229-v1:0" and described.usage.output_tokens <= 8
    compared = assistant.compare_images(png(), png(color="red"), max_tokens=8)
    assert compared.usage.input_images == 2
    with pytest.raises(ValueError):
        assistant.compare_images(png())


def test_ask_stream_yields_text_as_it_arrives(assistant: MultimodalAssistant) -> None:
    stream = assistant.ask_stream("Describe it.", images=png(), max_tokens=10)
    pieces = list(stream)
    assert pieces and all(isinstance(p, str) for p in pieces)
    assert stream.result is not None and stream.result.text == "".join(pieces) == stream.text
    assert stream.stop_reason in ("end_turn", "max_tokens") and 0 < stream.usage.output_tokens <= 10
    assert stream.usage.input_images == 1
    same = assistant.ask("Describe it.", images=png(), max_tokens=10)
    assert same.text == stream.text  # greedy decoding: the stream and the plain call agree
    with assistant.ask_stream("Describe it.", images=png(), max_tokens=64) as early:
        first = next(iter(early))
    assert first == pieces[0] and early.result is None  # left after one piece: closed, never finished
    assert assistant.ask("Describe it.", images=png(), max_tokens=10).text == same.text


def test_extract_json_and_schemas(assistant: MultimodalAssistant) -> None:
    result = assistant.extract(png(), max_tokens=48)
    assert json.loads(result.text.strip()) == result.data == result.value and result.usage.input_images == 1
    doc = assistant.extract(pdf_bytes(), max_tokens=48, model=NOVA_LITE)
    assert doc.model_id == NOVA_LITE

    class Receipt(BaseModel):
        shop: str
        total: float

    before = assistant.usage.by_model.get(NOVA_LITE)
    try:
        typed = assistant.extract(png(), Receipt, max_tokens=48, model=NOVA_LITE)
    except ExtractionError as exc:  # random weights rarely satisfy a schema: the repair round ran, then this
        assert exc.errors and isinstance(exc.text, str)
        assert assistant.usage.by_model[NOVA_LITE].calls == (before.calls if before else 0) + 2
    else:
        assert isinstance(typed.value, Receipt)
    with pytest.raises(TypeError):
        assistant.extract(png(), schema=42)


def test_anthropic_bodies_on_invoke_model(server: ServerProcess) -> None:
    """chat_api='invoke': Claude ids get Anthropic messages bodies on InvokeModel and
    InvokeModelWithResponseStream; Nova ids still converse; documents need Converse."""
    claude = MultimodalAssistant(chat_api="invoke")
    calls = Recorder(claude.client)
    answer = claude.ask("What is it?", images=[png(), png(color="red")], system="Be brief.", max_tokens=8, temperature=0)
    assert answer.usage.output_tokens <= 8 and answer.usage.input_tokens > 0 and answer.stop_reason in ("end_turn", "max_tokens")
    body = calls.bodies()[-1]
    assert body["anthropic_version"] == "bedrock-2023-05-31" and body["max_tokens"] == 8 and body["system"] == "Be brief."
    assert [b["type"] for b in body["messages"][0]["content"]] == ["image", "image", "text"]
    stream = claude.ask_stream("What is it?", images=[png(), png(color="red")], system="Be brief.", max_tokens=8, temperature=0)
    assert "".join(stream) == answer.text and stream.usage == answer.usage  # greedy: the same answer, the same counts
    assert [name for name, _ in calls.calls] == ["InvokeModel", "InvokeModelWithResponseStream"]
    assert claude.ask("hi", max_tokens=4, model=NOVA_LITE).usage.output_tokens <= 4
    assert calls.calls[-1][0] == "Converse"
    with pytest.raises(UnsupportedOptionError):
        claude.ask("Summarise.", documents=[pdf_bytes()])


# -- embeddings and search -------------------------------------------------------------------------
def test_embeddings(assistant: MultimodalAssistant) -> None:
    text = assistant.embed_text("赤い車")
    assert text.dimensions == 1024 and text.input_tokens > 0 and text.model_id == "amazon.titan-embed-image-v1"
    assert abs(sum(v * v for v in text.vector) - 1) < 1e-3 and text.request_id
    image = assistant.embed_image(png(), dimensions=256)
    assert image.dimensions == 256 and image.usage.input_images == 1
    both = assistant.embed_image(png(), text="a red car", dimensions=384)
    assert both.dimensions == 384 and both.input_tokens > 0


@pytest.fixture(scope="module")
def search_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, Path]]:
    from outcrop.config import Settings
    from outcrop.search.collections import open_collection
    from outcrop.search.embedder import InProcessEmbedder
    from outcrop.search.indexer import index_folder
    from outcrop.server.app import build_app
    from search_helpers import make_folder

    base = tmp_path_factory.mktemp("sdk-search")
    make_folder(base / "photos", 10)
    settings = Settings.from_env(profile="test", data_dir=base / "data")
    with InProcessEmbedder(settings) as emb, open_collection("photos", data_dir=settings.data_dir, model_key=emb.model_key,
                                                             dimension=1024) as store:
        index_folder(store, emb, base / "photos", progress=False)
    with ThreadServer(build_app(settings)) as server:
        yield server.url, base / "photos"


def test_search_images(search_server: tuple[str, Path]) -> None:
    url, photos = search_server
    assistant = MultimodalAssistant(endpoint_url=url, region="us-east-1")
    hits = assistant.search_images("a red circle", collection="photos", k=4)
    assert len(hits) == 4 and hits[0].score >= hits[-1].score and Path(hits[0].path).parent == photos
    target = photos / "green_ellipse_1.png"
    assert assistant.search_images(image=target, collection="photos", k=1)[0].path == str(target)
    assert assistant.search_images(image=Image.open(target), collection="photos", k=1)[0].path == str(target)
    with pytest.raises(SearchFailedError, match="no collection"):
        assistant.search_images("x", collection="nope")


def readme_sdk_examples(readme: Path) -> list[str]:
    """The ```python blocks of the README's "Python SDK" section, in order."""
    text = readme.read_text()
    section = text[text.index("\n## Python SDK\n"):]
    section = section[: section.index("\n## ", 1)]
    blocks = re.findall(r"```python\n(.*?)```", section, flags=re.S)
    assert len(blocks) >= 7, "the Python SDK section lost its examples"
    return blocks


def test_readme_python_sdk_examples(search_server: tuple[str, Path], tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                    capsys: pytest.CaptureFixture[str]) -> None:
    """Every example of the README's Python SDK section, run in order, unchanged, against a
    test-profile server that also holds a `photos` collection; the test provides report.pdf."""
    url, _ = search_server
    monkeypatch.setenv("AWS_ENDPOINT_URL_BEDROCK_RUNTIME", url)
    monkeypatch.setenv("AWS_ENDPOINT_URL_BEDROCK", url)  # the control plane, for the guardrails example
    monkeypatch.chdir(tmp_path)
    (tmp_path / "report.pdf").write_bytes(pdf_bytes())
    scope: dict[str, Any] = {}
    for i, block in enumerate(readme_sdk_examples(Path(__file__).resolve().parent.parent / "README.md")):
        exec(compile(block, f"README.md Python SDK example {i + 1}", "exec"), scope)
    assert (tmp_path / "generated_image.png").is_file() and (tmp_path / "car.png").is_file()
    assert isinstance(scope["analysis"], str) and scope["assistant"].usage.calls >= 15
    out = capsys.readouterr().out
    assert "ValidationException 400" in out and "on Bedrock" in out


# -- construction, usage tally ---------------------------------------------------------------------
def test_construction_options(server: ServerProcess) -> None:
    session = boto3.Session(region_name="eu-west-1")
    built = MultimodalAssistant(session=session, endpoint_url=server.url, retry_mode="adaptive", max_attempts=3,
                                read_timeout=90, models={"vision": NOVA_LITE})
    config = built.client.meta.config
    assert config.retries == {"mode": "adaptive", "total_max_attempts": 3} and config.read_timeout == 90
    assert built.client.meta.region_name == "eu-west-1" and built.endpoint_url == server.url
    assert built.describe(png(), max_tokens=4).model_id == NOVA_LITE
    own = boto3.client("bedrock-runtime", endpoint_url=server.url)
    assert MultimodalAssistant(client=own).client is own
    with pytest.raises(TypeError):
        MultimodalAssistant(client=own, region="us-east-1")
    with pytest.raises(ValueError, match="unknown capabilities"):
        MultimodalAssistant(models={"video": "x"})


def test_one_assistant_shared_by_16_threads(server: ServerProcess) -> None:
    """boto3 clients are thread-safe; the tally must be too: 16 concurrent calls, 16 counted."""
    from concurrent.futures import ThreadPoolExecutor

    assistant = MultimodalAssistant(max_attempts=10)
    with ThreadPoolExecutor(16) as pool:
        results = list(pool.map(lambda i: assistant.embed_text(f"photo {i}"), range(16)))
    assert all(r.dimensions == 1024 for r in results)
    entry = assistant.usage.by_model["amazon.titan-embed-image-v1"]
    assert entry.calls == 16 and entry.usage.input_tokens == sum(r.input_tokens for r in results)


def test_usage_tally_and_prices(server: ServerProcess) -> None:
    assistant = MultimodalAssistant(prices={"amazon.nova-lite-v1:0": TokenPrice(1.0, 2.0),
                                            "stability.stable-diffusion-xl-v1": ImagePrice(standard=0.5, premium=1.5)})
    answer = assistant.ask("hi", max_tokens=5, model=NOVA_LITE)
    assistant.generate_images("x", n=2, steps=60, seed=1)  # > 50 steps: SDXL's premium tier
    assistant.embed_text("hello")
    tally = assistant.usage
    expected_chat = answer.usage.input_tokens / 1000 * 1.0 + answer.usage.output_tokens / 1000 * 2.0
    assert tally.by_model[NOVA_LITE].estimated_cost_usd == pytest.approx(expected_chat)
    assert tally.by_model["stability.stable-diffusion-xl-v1"].estimated_cost_usd == pytest.approx(2 * 1.5)
    assert tally.total.images == 2 and tally.total.steps == 120 and tally.calls == 4
    embed_tokens = tally.by_model["amazon.titan-embed-image-v1"].usage.input_tokens
    assert tally.estimated_cost_usd == pytest.approx(expected_chat + 3.0 + embed_tokens / 1000 * 0.0008)
    assert PRICES["amazon.nova-lite-v1:0"] != TokenPrice(1.0, 2.0)  # the override is per assistant
    tally.reset()
    assert tally.calls == 0 and tally.estimated_cost_usd == 0


# -- against Bedrock's documented response shapes (botocore Stubber) ---------------------------------
@pytest.fixture
def stubbed() -> Iterator[tuple[MultimodalAssistant, Stubber, Recorder]]:
    client = boto3.client("bedrock-runtime", region_name="us-east-1", endpoint_url=None)
    assistant = MultimodalAssistant(client=client)
    recorder = Recorder(client)
    with Stubber(client) as stubber:
        yield assistant, stubber, recorder
        stubber.assert_no_pending_responses()


def invoke_response(payload: dict[str, Any], request_id: str = "req-1") -> dict[str, Any]:
    from botocore.response import StreamingBody

    data = json.dumps(payload).encode()
    return {"body": StreamingBody(io.BytesIO(data), len(data)), "contentType": "application/json",
            "ResponseMetadata": {"RequestId": request_id, "HTTPStatusCode": 200}}


def converse_response(text: str, inputs: int = 1000, outputs: int = 2000) -> dict[str, Any]:
    return {"output": {"message": {"role": "assistant", "content": [{"text": text}]}}, "stopReason": "end_turn",
            "usage": {"inputTokens": inputs, "outputTokens": outputs, "totalTokens": inputs + outputs},
            "metrics": {"latencyMs": 321}, "ResponseMetadata": {"RequestId": "conv-1", "HTTPStatusCode": 200}}


def test_stubbed_seed_methods_and_generation(stubbed: tuple[MultimodalAssistant, Stubber, Recorder]) -> None:
    assistant, stubber, recorder = stubbed
    image = png((64, 64))
    encoded = base64.b64encode(image).decode()
    stubber.add_response("invoke_model", invoke_response(
        {"result": "success", "artifacts": [{"seed": 1234, "base64": encoded, "finishReason": "SUCCESS"}]}))
    stubber.add_response("converse", converse_response("Scandinavian"))
    assert assistant.generate_image("cafe") == image
    assert assistant.analyze_image(image, "style?") == "Scandinavian"
    stubber.add_response("invoke_model", invoke_response({"images": [encoded, encoded, encoded], "error": None}, "t-1"))
    result = assistant.generate_images("x", n=3, size=(512, 512), seed=9, cfg_scale=7.5, model=TITAN)
    assert len(result.images) == 3 and result.request_ids == ["t-1"] and result.images[0].seed is None
    body = recorder.bodies()[-1]
    assert body == {"taskType": "TEXT_IMAGE", "textToImageParams": {"text": "x"},
                    "imageGenerationConfig": {"numberOfImages": 3, "seed": 9, "cfgScale": 7.5, "width": 512, "height": 512}}
    # Seven Nova images: two requests (Bedrock's limit is 5 a request), seeds 4 and 9.
    stubber.add_response("invoke_model", invoke_response({"images": [encoded] * 5}))
    stubber.add_response("invoke_model", invoke_response({"images": [encoded] * 2}))
    many = assistant.generate_images("x", n=7, seed=4, model=NOVA, style="FLAT_VECTOR_ILLUSTRATION")
    assert len(many.images) == 7
    configs = [b["imageGenerationConfig"] for b in recorder.bodies()[-2:]]
    assert [(c["numberOfImages"], c["seed"]) for c in configs] == [(5, 4), (2, 9)]
    assert recorder.bodies()[-1]["textToImageParams"]["style"] == "FLAT_VECTOR_ILLUSTRATION"
    tally = assistant.usage.by_model
    assert tally["stability.stable-diffusion-xl-v1"].estimated_cost_usd == pytest.approx(0.04)  # 50 steps: standard
    assert tally["anthropic.claude-3-sonnet-20240229-v1:0"].estimated_cost_usd == pytest.approx(0.003 + 0.03)
    assert tally[TITAN].estimated_cost_usd == pytest.approx(3 * 0.008)  # 512x512 standard
    assert tally[NOVA].estimated_cost_usd == pytest.approx(7 * 0.04)


def test_stubbed_edits(stubbed: tuple[MultimodalAssistant, Stubber, Recorder]) -> None:
    assistant, stubber, recorder = stubbed
    image, mask = png(), mask_png()
    encoded = base64.b64encode(image).decode()
    for _ in range(4):
        stubber.add_response("invoke_model", invoke_response({"images": [encoded]}))
    stubber.add_response("invoke_model", invoke_response(
        {"result": "success", "artifacts": [{"seed": 5, "base64": encoded, "finishReason": "SUCCESS"}]}))
    assistant.vary_image(image, "night", similarity=0.4, seed=1)
    assistant.inpaint(image, mask_prompt="the square", prompt="a car", seed=1)
    assistant.outpaint(image, mask, prompt="a beach", seed=1)
    assistant.remove_background(image)
    assistant.inpaint(image, mask, prompt="a car", seed=5, model="stability.stable-diffusion-xl-v1")
    b64 = base64.b64encode
    variation, inpaint, outpaint, removal, sdxl = recorder.bodies()
    assert variation["imageVariationParams"] == {"images": [b64(image).decode()], "similarityStrength": 0.4, "text": "night"}
    assert inpaint["inPaintingParams"] == {"image": b64(image).decode(), "text": "a car", "maskPrompt": "the square"}
    assert outpaint["outPaintingParams"] == {"image": b64(image).decode(), "text": "a beach", "maskImage": b64(mask).decode(),
                                             "outPaintingMode": "DEFAULT"}
    assert removal == {"taskType": "BACKGROUND_REMOVAL", "backgroundRemovalParams": {"image": b64(image).decode()}}
    assert sdxl["mask_source"] == "MASK_IMAGE_BLACK" and sdxl["init_image"] == b64(image).decode() and sdxl["seed"] == 5


def test_stubbed_chat_documents_extract_embeddings(stubbed: tuple[MultimodalAssistant, Stubber, Recorder]) -> None:
    assistant, stubber, recorder = stubbed
    stubber.add_response("converse", converse_response("two shapes", 50, 3))
    answer = assistant.ask("What?", images=[png(), png()], documents=[pdf_bytes(), pdf_bytes()], system="Be brief.",
                           max_tokens=100)
    assert answer.text == "two shapes" and answer.request_id == "conv-1" and answer.usage.input_tokens == 50
    params = recorder.calls[-1][1]
    content = params["messages"][0]["content"]
    assert [next(iter(block)) for block in content] == ["image", "image", "document", "document", "text"]
    assert [block["document"]["name"] for block in content[2:4]] == ["document", "document (2)"]
    assert params["system"] == [{"text": "Be brief."}] and params["inferenceConfig"] == {"maxTokens": 100}

    schema = {"type": "object", "properties": {"total": {"type": "number"}}, "required": ["total"]}
    stubber.add_response("converse", converse_response('{"total": "twelve"}'))
    stubber.add_response("converse", converse_response('```json\n{"total": 12.5}\n```'))
    fixed = assistant.extract(png(), schema)
    assert fixed.data == {"total": 12.5} and fixed.repaired
    repair_turns = recorder.calls[-1][1]["messages"]
    assert [m["role"] for m in repair_turns] == ["user", "assistant", "user"]
    assert "total" in repair_turns[2]["content"][0]["text"] and "JSON Schema" in repair_turns[0]["content"][1]["text"]

    class Total(BaseModel):
        total: float

    stubber.add_response("converse", converse_response("not json"))
    stubber.add_response("converse", converse_response('{"sum": 1}'))
    with pytest.raises(ExtractionError) as failed:
        assistant.extract(pdf_bytes(), Total)
    assert failed.value.text == '{"sum": 1}' and "total" in failed.value.errors[0]
    assert "document" in recorder.calls[-1][1]["messages"][0]["content"][0]

    stubber.add_response("invoke_model", invoke_response({"embedding": [0.6, 0.8], "inputTextTokenCount": 4}, "e-1"))
    embedded = assistant.embed_text("赤い車", dimensions=256)
    assert embedded.vector == [0.6, 0.8] and embedded.input_tokens == 4 and embedded.request_id == "e-1"
    assert recorder.bodies()[-1] == {"inputText": "赤い車", "embeddingConfig": {"outputEmbeddingLength": 256}}
    assert assistant.usage.by_model["amazon.titan-embed-image-v1"].estimated_cost_usd == pytest.approx(4 / 1000 * 0.0008)


def test_stubbed_errors_carry_code_status_and_request_id(stubbed: tuple[MultimodalAssistant, Stubber, Recorder]) -> None:
    assistant, stubber, _ = stubbed
    stubber.add_client_error("converse", "ThrottlingException", "Too many tokens, please wait.", 429,
                             response_meta={"RequestId": "thr-1"})
    with pytest.raises(ThrottlingError) as info:
        assistant.ask("hi")
    assert (info.value.code, info.value.status, info.value.request_id) == ("ThrottlingException", 429, "thr-1")
    assert info.value.retryable and isinstance(info.value, AssistantError)
    assistant._sleep = lambda seconds: None
    for _ in range(3):  # the first try and model_timeout_retries = 2 more
        stubber.add_client_error("invoke_model", "ModelTimeoutException", "Model has timed out.", 408,
                                 response_meta={"RequestId": "to-1"})
    with pytest.raises(ModelTimeoutError):
        assistant.embed_text("x")


def test_stubbed_converse_stream_through_botocores_parser() -> None:
    """ConverseStream's documented events as event-stream frames, parsed by botocore itself (the
    Stubber cannot hold an event stream)."""
    from botocore.awsrequest import AWSResponse

    events = [("messageStart", {"role": "assistant"}), ("contentBlockDelta", {"delta": {"text": "Hel"}, "contentBlockIndex": 0}),
              ("contentBlockDelta", {"delta": {"text": "lo"}, "contentBlockIndex": 0}),
              ("contentBlockStop", {"contentBlockIndex": 0}), ("messageStop", {"stopReason": "end_turn"}),
              ("metadata", {"usage": {"inputTokens": 9, "outputTokens": 2, "totalTokens": 11}, "metrics": {"latencyMs": 40}})]
    frames = b"".join(event_frame(name, payload) for name, payload in events)

    class Raw:
        closed = False

        def stream(self, **_: Any) -> Iterator[bytes]:
            yield frames

        def close(self) -> None:
            Raw.closed = True

    def send(request: Any, **_: Any) -> AWSResponse:
        return AWSResponse(request.url, 200, {"content-type": CONTENT_TYPE, "x-amzn-requestid": "s-1"}, Raw())

    client = boto3.client("bedrock-runtime", region_name="us-east-1")
    client.meta.events.register("before-send.bedrock-runtime.ConverseStream", send)
    assistant = MultimodalAssistant(client=client)
    stream = assistant.ask_stream("hi", images=png(), model=NOVA_LITE)
    assert list(stream) == ["Hel", "lo"] and stream.stop_reason == "end_turn"
    assert stream.result is not None and stream.result.request_id == "s-1" and stream.usage.output_tokens == 2
    assert assistant.usage.by_model[NOVA_LITE].usage.input_tokens == 9 and Raw.closed


def test_stubbed_anthropic_bodies() -> None:
    """Anthropic's documented InvokeModel reply through the Stubber, and its stream events as
    `chunk` frames through botocore's parser."""
    from botocore.awsrequest import AWSResponse

    client = boto3.client("bedrock-runtime", region_name="us-east-1")
    assistant = MultimodalAssistant(client=client, chat_api="invoke")
    with Stubber(client) as stubber:
        stubber.add_response("invoke_model", invoke_response({
            "id": "msg_bdrk_01", "type": "message", "role": "assistant", "model": "claude-3-haiku-20240307",
            "content": [{"type": "text", "text": "A teal square."}], "stop_reason": "end_turn", "stop_sequence": None,
            "usage": {"input_tokens": 1500, "output_tokens": 6}}, "anth-1"))
        answer = assistant.ask("What?", images=png(), model="anthropic.claude-3-haiku-20240307-v1:0")
    assert (answer.text, answer.stop_reason, answer.request_id) == ("A teal square.", "end_turn", "anth-1")
    assert assistant.usage.estimated_cost_usd == pytest.approx(1.5 * 0.00025 + 0.006 * 0.00125)

    events = [{"type": "message_start", "message": {"id": "msg_bdrk_02", "type": "message", "role": "assistant",
                                                     "content": [], "usage": {"input_tokens": 12, "output_tokens": 1}}},
              {"type": "content_block_start", "index": 0, "content_block": {"type": "text", "text": ""}},
              {"type": "content_block_delta", "index": 0, "delta": {"type": "text_delta", "text": "Tea"}},
              {"type": "content_block_delta", "index": 0, "delta": {"type": "text_delta", "text": "l."}},
              {"type": "content_block_stop", "index": 0},
              {"type": "message_delta", "delta": {"stop_reason": "end_turn", "stop_sequence": None}, "usage": {"output_tokens": 3}},
              {"type": "message_stop", "amazon-bedrock-invocationMetrics": {"inputTokenCount": 12, "outputTokenCount": 3}}]
    frames = b"".join(event_frame("chunk", {"bytes": base64.b64encode(json.dumps(e).encode()).decode()}) for e in events)

    class Raw:
        def stream(self, **_: Any) -> Iterator[bytes]:
            yield frames

        def close(self) -> None:
            pass

    client.meta.events.register("before-send.bedrock-runtime.InvokeModelWithResponseStream",
                                lambda request, **_: AWSResponse(request.url, 200, {"content-type": CONTENT_TYPE}, Raw()))
    stream = assistant.ask_stream("What?", images=png())
    assert list(stream) == ["Tea", "l."] and stream.stop_reason == "end_turn"
    assert (stream.usage.input_tokens, stream.usage.output_tokens) == (12, 3)


# -- retries against a server that throttles ---------------------------------------------------------
class FlakyBedrock:
    """A tiny HTTP server answering InvokeModel with `failures` Bedrock errors, then an embedding."""

    def __init__(self, failures: list[tuple[int, str]]) -> None:
        self.failures = list(failures)
        self.hits = 0
        self.invocation_ids: list[str] = []
        owner = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                self.rfile.read(int(self.headers.get("content-length", 0)))
                owner.hits += 1
                owner.invocation_ids.append(self.headers.get("amz-sdk-invocation-id", ""))
                if owner.failures:
                    status, code = owner.failures.pop(0)
                    body = json.dumps({"message": f"{code} from the flaky server"}).encode()
                    headers = {"x-amzn-ErrorType": f"{code}:http://internal.amazon.com/coral/com.amazon.bedrock/"}
                else:
                    status, body, headers = 200, json.dumps({"embedding": [1.0], "inputTextTokenCount": 1}).encode(), {}
                self.send_response(status)
                for key, value in {**headers, "x-amzn-RequestId": f"flaky-{owner.hits}",
                                   "Content-Type": "application/json", "Content-Length": str(len(body))}.items():
                    self.send_header(key, value)
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *_: Any) -> None:
                pass

        self.httpd = ThreadingHTTPServer(("127.0.0.1", free_port()), Handler)
        self.httpd.daemon_threads = True  # botocore keeps its connection open; do not wait for it at exit
        self.httpd.block_on_close = False
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}"

    def __enter__(self) -> FlakyBedrock:
        threading.Thread(target=self.httpd.serve_forever, daemon=True).start()
        return self

    def __exit__(self, *_: Any) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()


def test_throttling_twice_then_success_is_retried_by_botocore() -> None:
    with FlakyBedrock([(429, "ThrottlingException"), (429, "ThrottlingException")]) as flaky:
        assistant = MultimodalAssistant(endpoint_url=flaky.url, region="us-east-1")
        result = assistant.embed_text("hello")
    assert result.vector == [1.0] and result.request_id == "flaky-3" and flaky.hits == 3
    assert len(set(flaky.invocation_ids)) == 1  # one call, retried by botocore with the same invocation id


def test_service_unavailable_and_model_not_ready_are_retried_by_botocore() -> None:
    with FlakyBedrock([(503, "ServiceUnavailableException"), (429, "ModelNotReadyException")]) as flaky:
        assert MultimodalAssistant(endpoint_url=flaky.url, region="us-east-1").embed_text("x").vector == [1.0]
    assert flaky.hits == 3 and len(set(flaky.invocation_ids)) == 1


def test_model_timeout_is_retried_by_the_sdk_and_exhaustion_raises() -> None:
    with FlakyBedrock([(408, "ModelTimeoutException")]) as flaky:
        assistant = MultimodalAssistant(endpoint_url=flaky.url, region="us-east-1", backoff_base_s=0.01)
        assert assistant.embed_text("hello").vector == [1.0] and flaky.hits == 2
    with FlakyBedrock([(429, "ThrottlingException")] * 3) as flaky:
        assistant = MultimodalAssistant(endpoint_url=flaky.url, region="us-east-1", max_attempts=2)
        started = time.monotonic()
        with pytest.raises(ThrottlingError) as info:
            assistant.embed_text("hello")
        assert flaky.hits == 2 and time.monotonic() - started < 30
    assert info.value.request_id == "flaky-2" and info.value.status == 429
    with FlakyBedrock([(400, "ValidationException")]) as flaky:
        with pytest.raises(ValidationError):
            MultimodalAssistant(endpoint_url=flaky.url, region="us-east-1").embed_text("hello")
        assert flaky.hits == 1  # a refused request is not sent again

"""Guardrails on image generation (SDXL, SD3.5 / Stable Image Core and Ultra, Titan Image v1/v2, Nova Canvas)
through real boto3 clients and a real server on the test profile's tiny random-weight diffusion and SD3
engines, with the real detectors (word filters, PII, Yahoo's open_nsfw for images).

The engines are the real ones behind a counter, so a test can prove that a blocked request never loads
or runs them and see the prompt the model was given. The random-weight engines never draw anything a
detector flags, so per-image output handling is tested on the guardrail and each family's answer with
real pictures (test_each_generated_image_is_assessed_alone); background removal, which keeps the
picture's pixels, proves an output block end to end."""

from __future__ import annotations

import base64
import io
import json
from collections.abc import Iterator
from typing import Any

import boto3
import pytest
from botocore.config import Config
from botocore.exceptions import ClientError
from PIL import Image

from images import b64, image_bytes, shape_image, skin_figure
from servers import ThreadServer
from outcrop.tasks.image_generation import ImageResult, ImageTask

SDXL, V1, V2, NOVA = ("stability.stable-diffusion-xl-v1", "amazon.titan-image-generator-v1",
                      "amazon.titan-image-generator-v2:0", "amazon.nova-canvas-v1:0")
SD35, CORE, ULTRA = "stability.sd3-5-large-v1:0", "stability.stable-image-core-v1:1", "stability.stable-image-ultra-v1:1"
BLOCKED_IN = "この画像リクエストはブロックされました。"
BLOCKED_OUT = "The generated image was blocked."
SKIN = b64(image_bytes(skin_figure((96, 64))))  # open_nsfw: about 0.76, MEDIUM
PLAIN = b64(image_bytes(shape_image(size=(96, 64))))  # open_nsfw: under 0.01


class CountingEngine:
    """The real diffusion engine, counting the tasks it is asked to run."""

    def __init__(self, engine: Any) -> None:
        self.engine = engine
        self.tasks: list[ImageTask] = []

    async def generate(self, task: ImageTask) -> ImageResult:
        self.tasks.append(task)
        result: ImageResult = await self.engine.generate(task)
        return result

    def __getattr__(self, name: str) -> Any:
        return getattr(self.engine, name)


class Counted:
    def __init__(self) -> None:
        self.loads = 0
        self.engines: dict[str, CountingEngine] = {}  # by engine kind: diffusion (SDXL, Titan, Nova), sd3

    @property
    def engine(self) -> CountingEngine | None:
        return self.engines.get("diffusion")

    @property
    def runs(self) -> int:
        return sum(len(engine.tasks) for engine in self.engines.values())


@pytest.fixture(scope="module")
def served(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[ThreadServer, Counted]]:
    from outcrop.config import Settings
    from outcrop.server.app import build_app

    app = build_app(Settings.from_env(profile="test", data_dir=tmp_path_factory.mktemp("guard-images"), load_wait_s=600))
    counted = Counted()
    pool = app.state.runtime.pool
    real_get = pool.get

    async def get(entry: Any, wait_s: float | None = None) -> Any:
        engine = await real_get(entry, wait_s=wait_s)
        if entry.engine not in ("diffusion", "sd3"):
            return engine
        counted.loads += 1
        if entry.engine not in counted.engines:
            counted.engines[entry.engine] = CountingEngine(engine)
        return counted.engines[entry.engine]

    pool.get = get
    with ThreadServer(app) as server:
        yield server, counted


@pytest.fixture(scope="module")
def clients(served: tuple[ThreadServer, Counted]) -> tuple[Any, Any]:
    server, _ = served
    config = Config(retries={"total_max_attempts": 1}, read_timeout=300)
    return (boto3.client("bedrock", endpoint_url=server.url, config=config),
            boto3.client("bedrock-runtime", endpoint_url=server.url, config=config))


def _create(control: Any, name: str, **policies: Any) -> str:
    created = control.create_guardrail(name=name, blockedInputMessaging=BLOCKED_IN, blockedOutputsMessaging=BLOCKED_OUT,
                                       **policies)
    return str(created["guardrailId"])


@pytest.fixture(scope="module")
def guard(clients: tuple[Any, Any]) -> str:
    """Words and PII on the prompt; the SEXUAL filter on input and output images."""
    return _create(clients[0], "image-guard",
                   wordPolicyConfig={"wordsConfig": [{"text": "project falcon"}]},
                   sensitiveInformationPolicyConfig={"piiEntitiesConfig": [{"type": "EMAIL", "action": "ANONYMIZE"}]},
                   contentPolicyConfig={"filtersConfig": [{
                       "type": "SEXUAL", "inputStrength": "HIGH", "outputStrength": "HIGH",
                       "inputModalities": ["TEXT", "IMAGE"], "outputModalities": ["IMAGE"]}]})


@pytest.fixture(scope="module")
def output_guard(clients: tuple[Any, Any]) -> str:
    """The SEXUAL image filter on output only: inputs pass, generated images are assessed."""
    return _create(clients[0], "image-output-guard", contentPolicyConfig={"filtersConfig": [{
        "type": "SEXUAL", "inputStrength": "NONE", "outputStrength": "HIGH", "outputModalities": ["IMAGE"]}]})


def invoke(runtime: Any, model: str, body: dict[str, Any], guardrail: str | None, trace: str = "ENABLED",
           **extra: Any) -> dict[str, Any]:
    params: dict[str, Any] = {"modelId": model, "body": json.dumps(body), **extra}
    if guardrail is not None:
        params.update(guardrailIdentifier=guardrail, guardrailVersion="DRAFT", trace=trace)
    return json.loads(runtime.invoke_model(**params)["body"].read())  # type: ignore[no-any-return]


def sdxl(prompt: str, negative: str | None = None, **extra: Any) -> dict[str, Any]:
    prompts = [{"text": prompt, "weight": 1.0}] + ([{"text": negative, "weight": -1.0}] if negative else [])
    return {"text_prompts": prompts, "seed": 7, "steps": 10, **extra}


def titan_text(prompt: str, **params: Any) -> dict[str, Any]:
    return {"taskType": "TEXT_IMAGE", "textToImageParams": {"text": prompt, **params},
            "imageGenerationConfig": {"seed": 3, "width": 512, "height": 512}}


def is_black(data: str) -> bool:
    with Image.open(io.BytesIO(base64.b64decode(data))) as picture:
        return picture.convert("RGB").getextrema() == ((0, 0), (0, 0), (0, 0))


def content_filters(assessment: dict[str, Any]) -> list[dict[str, Any]]:
    return assessment.get("contentPolicy", {}).get("filters", [])  # type: ignore[no-any-return]


# --- SDXL ---------------------------------------------------------------------------------------------
def test_sdxl_blocked_prompt_and_image_never_reach_the_engine(clients: tuple[Any, Any], guard: str,
                                                             served: tuple[ThreadServer, Counted]) -> None:
    _, runtime = clients
    counted = served[1]
    before = (counted.loads, counted.runs)
    body = invoke(runtime, SDXL, sdxl("A poster for Project Falcon"), guard)
    assert body["amazon-bedrock-guardrailAction"] == "INTERVENED" and body["message"] == BLOCKED_IN
    [artifact] = body["artifacts"]
    assert artifact["finishReason"] == "CONTENT_FILTERED" and artifact["seed"] == 7 and is_black(artifact["base64"])
    trace = body["amazon-bedrock-trace"]["guardrail"]
    assert trace["input"][guard]["wordPolicy"]["customWords"][0]["match"].lower() == "project falcon"
    assert "outputs" not in trace

    img2img = sdxl("a quiet beach", init_image=SKIN, image_strength=0.5)
    body = invoke(runtime, SDXL, img2img, guard)
    assert body["amazon-bedrock-guardrailAction"] == "INTERVENED"
    assessment = body["amazon-bedrock-trace"]["guardrail"]["input"][guard]
    assert [(f["type"], f["confidence"], f["action"]) for f in content_filters(assessment)] == [("SEXUAL", "MEDIUM", "BLOCKED")]
    assert assessment["invocationMetrics"]["guardrailCoverage"]["images"] == {"guarded": 1, "total": 1}
    # the mask image is an input image too
    inpaint = sdxl("a quiet beach", init_image=PLAIN, mask_source="MASK_IMAGE_WHITE", mask_image=SKIN)
    assert invoke(runtime, SDXL, inpaint, guard)["amazon-bedrock-guardrailAction"] == "INTERVENED"
    assert (counted.loads, counted.runs) == before  # the diffusion engine was neither loaded nor asked


def test_sdxl_clean_request_is_generated_and_its_output_assessed(clients: tuple[Any, Any], guard: str,
                                                                 served: tuple[ThreadServer, Counted]) -> None:
    _, runtime = clients
    counted = served[1]
    before = counted.runs
    # the negative prompt is not assessed: it names what the picture must not show
    body = invoke(runtime, SDXL, sdxl("a lighthouse at dusk", negative="project falcon"), guard)
    assert counted.runs == before + 1
    assert body["amazon-bedrock-guardrailAction"] == "NONE" and "message" not in body
    assert body["artifacts"][0]["finishReason"] == "SUCCESS"
    trace = body["amazon-bedrock-trace"]["guardrail"]
    [output] = trace["outputs"]
    assert output[guard]["invocationMetrics"]["guardrailCoverage"]["images"] == {"guarded": 1, "total": 1}
    assert "amazon-bedrock-trace" not in invoke(runtime, SDXL, sdxl("a lighthouse"), guard, trace="DISABLED")
    assert "amazon-bedrock-guardrailAction" not in invoke(runtime, SDXL, sdxl("a lighthouse"), None)


def test_sdxl_masked_prompt_reaches_the_model_masked(clients: tuple[Any, Any], guard: str,
                                                     served: tuple[ThreadServer, Counted]) -> None:
    _, runtime = clients
    counted = served[1]
    body = invoke(runtime, SDXL, sdxl("a letter addressed to sato@example.jp", negative="blurry"), guard)
    assert body["amazon-bedrock-guardrailAction"] == "INTERVENED" and "message" not in body
    assert body["artifacts"][0]["finishReason"] == "SUCCESS"
    assert counted.engine is not None
    prompts = [(p.text, p.weight) for p in counted.engine.tasks[-1].prompts]
    assert prompts == [("a letter addressed to {EMAIL}", 1.0), ("blurry", -1.0)]


def test_sdxl_png_accept_on_intervention(clients: tuple[Any, Any], guard: str) -> None:
    _, runtime = clients
    response = runtime.invoke_model(modelId=SDXL, body=json.dumps(sdxl("project falcon logo")), accept="image/png",
                                    guardrailIdentifier=guard, guardrailVersion="DRAFT")
    headers = response["ResponseMetadata"]["HTTPHeaders"]
    assert response["contentType"] == "image/png"
    assert headers["finish-reason"] == "CONTENT_FILTERED" and headers["amazon-bedrock-guardrailaction"] == "INTERVENED"
    assert is_black(base64.b64encode(response["body"].read()).decode())


# --- Titan Image and Nova Canvas ----------------------------------------------------------------------
@pytest.mark.parametrize("model", [V1, V2, NOVA])
def test_titan_family_blocked_prompt(model: str, clients: tuple[Any, Any], guard: str,
                                     served: tuple[ThreadServer, Counted]) -> None:
    _, runtime = clients
    counted = served[1]
    before = counted.runs
    body = invoke(runtime, model, titan_text("project falcon, a logo"), guard)
    assert body["images"] == [] and body["error"] == BLOCKED_IN
    assert body["amazon-bedrock-guardrailAction"] == "INTERVENED"
    assert body["amazon-bedrock-trace"]["guardrail"]["input"][guard]["wordPolicy"]["customWords"]
    assert counted.runs == before


@pytest.mark.parametrize(("model", "body"), [
    (V2, titan_text("a house", conditionImage=SKIN, controlMode="CANNY_EDGE")),
    (V1, {"taskType": "IMAGE_VARIATION", "imageVariationParams": {"images": [PLAIN, SKIN]},
          "imageGenerationConfig": {"seed": 3, "width": 512, "height": 512}}),
    (NOVA, {"taskType": "INPAINTING", "inPaintingParams": {"image": SKIN, "maskImage": PLAIN, "text": "a hat"}}),
    (V2, {"taskType": "COLOR_GUIDED_GENERATION", "colorGuidedGenerationParams": {
        "text": "a vase", "colors": ["#ff0000"], "referenceImage": SKIN}, "imageGenerationConfig": {"width": 512, "height": 512}}),
    (V2, {"taskType": "BACKGROUND_REMOVAL", "backgroundRemovalParams": {"image": SKIN}}),
])
def test_titan_family_input_images_are_assessed(model: str, body: dict[str, Any], clients: tuple[Any, Any], guard: str,
                                                served: tuple[ThreadServer, Counted]) -> None:
    _, runtime = clients
    counted = served[1]
    before = counted.runs
    answer = invoke(runtime, model, body, guard)
    assert answer["images"] == [] and answer["error"] == BLOCKED_IN, answer
    filters = content_filters(answer["amazon-bedrock-trace"]["guardrail"]["input"][guard])
    assert [(f["type"], f["action"]) for f in filters] == [("SEXUAL", "BLOCKED")]
    assert counted.runs == before


def test_titan_generated_images_are_assessed_on_output(clients: tuple[Any, Any], guard: str, output_guard: str,
                                                       served: tuple[ThreadServer, Counted]) -> None:
    """Background removal keeps the picture's pixels: the output guardrail sees the flagged figure."""
    _, runtime = clients
    counted = served[1]
    before = counted.runs
    removal = {"taskType": "BACKGROUND_REMOVAL", "backgroundRemovalParams": {"image": SKIN}}
    body = invoke(runtime, V2, removal, output_guard)
    assert counted.runs == before + 1  # the input passed (no input filter), the engine ran
    assert body["images"] == [] and body["error"] == BLOCKED_OUT
    assert body["amazon-bedrock-guardrailAction"] == "INTERVENED"
    trace = body["amazon-bedrock-trace"]["guardrail"]
    [output] = trace["outputs"]
    assert [(f["type"], f["action"]) for f in content_filters(output[output_guard])] == [("SEXUAL", "BLOCKED")]

    clean = invoke(runtime, V2, {**titan_text("a lighthouse"), "imageGenerationConfig": {
        "seed": 3, "width": 512, "height": 512, "numberOfImages": 2}}, guard)
    assert len(clean["images"]) == 2 and clean["amazon-bedrock-guardrailAction"] == "NONE"
    outputs = clean["amazon-bedrock-trace"]["guardrail"]["outputs"]  # each image is assessed on its own
    assert [o[guard]["invocationMetrics"]["guardrailCoverage"]["images"] for o in outputs] == [{"guarded": 1, "total": 1}] * 2


def test_titan_masked_prompt_reaches_the_model_masked(clients: tuple[Any, Any], guard: str,
                                                      served: tuple[ThreadServer, Counted]) -> None:
    _, runtime = clients
    counted = served[1]
    body = invoke(runtime, V2, titan_text("an envelope for yamada@example.com", negativeText="text"), guard)
    assert len(body["images"]) == 1 and body["amazon-bedrock-guardrailAction"] == "INTERVENED"
    assert counted.engine is not None
    assert [p.text for p in counted.engine.tasks[-1].prompts] == ["an envelope for {EMAIL}", "text"]


# --- SD3.5 Large, Stable Image Core and Ultra ---------------------------------------------------------
def test_sd3_blocked_prompt_and_image_never_reach_the_engine(clients: tuple[Any, Any], guard: str,
                                                            served: tuple[ThreadServer, Counted]) -> None:
    _, runtime = clients
    counted = served[1]
    before = (counted.loads, counted.runs)
    body = invoke(runtime, SD35, {"prompt": "A poster for Project Falcon", "seed": 7}, guard)
    assert body["finish_reasons"] == ["Filter reason: prompt"] and "images" not in body and "seeds" not in body
    assert body["amazon-bedrock-guardrailAction"] == "INTERVENED"
    trace = body["amazon-bedrock-trace"]["guardrail"]
    assert trace["input"][guard]["wordPolicy"]["customWords"][0]["match"].lower() == "project falcon"
    assert "outputs" not in trace
    # the input image of image-to-image (Ultra: without `mode`; WEBP too) is assessed, and named as the reason
    webp = b64(image_bytes(skin_figure((96, 64)), "WEBP"))
    for model, extra in ((ULTRA, {"image": SKIN}), (SD35, {"image": webp, "mode": "image-to-image"})):
        body = invoke(runtime, model, {"prompt": "a quiet beach", "strength": 0.5, **extra}, guard)
        assert body["finish_reasons"] == ["Filter reason: input image"], body
        assessment = body["amazon-bedrock-trace"]["guardrail"]["input"][guard]
        assert [(f["type"], f["action"]) for f in content_filters(assessment)] == [("SEXUAL", "BLOCKED")]
        assert assessment["invocationMetrics"]["guardrailCoverage"]["images"] == {"guarded": 1, "total": 1}
    assert (counted.loads, counted.runs) == before  # the SD3 engine was neither loaded nor asked


def test_sd3_masked_prompt_reaches_the_model_masked_and_output_is_assessed(
        clients: tuple[Any, Any], guard: str, served: tuple[ThreadServer, Counted]) -> None:
    _, runtime = clients
    counted = served[1]
    body = invoke(runtime, CORE, {"prompt": "a letter addressed to sato@example.jp", "negative_prompt": "sato@example.jp",
                                  "seed": 5}, guard)
    assert body["amazon-bedrock-guardrailAction"] == "INTERVENED"
    assert body["finish_reasons"] == [None] and body["seeds"] == [5] and len(body["images"]) == 1
    prompts = [(p.text, p.weight) for p in counted.engines["sd3"].tasks[-1].prompts]
    assert prompts == [("a letter addressed to {EMAIL}", 1.0), ("sato@example.jp", -1.0)]  # negative: not assessed
    trace = body["amazon-bedrock-trace"]["guardrail"]
    assert trace["input"][guard]["sensitiveInformationPolicy"]["piiEntities"][0]["action"] == "ANONYMIZED"
    [output] = trace["outputs"]
    assert output[guard]["invocationMetrics"]["guardrailCoverage"]["images"] == {"guarded": 1, "total": 1}


def test_each_generated_image_is_assessed_alone(served: tuple[ThreadServer, Counted], output_guard: str) -> None:
    """Two generated pictures, one of which the SEXUAL filter flags: the guardrail blocks that one only, its
    trace has a Bedrock-shaped assessment per image, and each family replaces only the flagged one. (The
    test profile's random-weight engines never draw a flagged picture, so this runs the guardrail and the
    families' answers on real pictures instead of through InvokeModel.)"""
    import asyncio

    from botocore.session import get_session
    from botocore.validate import ParamValidator

    from outcrop.guardrails.enforce import ConverseGuard
    from outcrop.protocols import image_guardrail, stability_sd3, stability_sdxl, titan_image
    from outcrop.protocols.converse_schema import GuardrailConfig
    from outcrop.protocols.invoke_guardrail import response_fields
    from outcrop.tasks.image_generation import GeneratedImage

    server, _ = served
    images = [GeneratedImage(base64.b64decode(SKIN), 11), GeneratedImage(base64.b64decode(PLAIN), 12)]
    config = GuardrailConfig(guardrailIdentifier=output_guard, guardrailVersion="DRAFT", trace="enabled")

    async def screen() -> tuple[ConverseGuard, list[bool]]:
        guard = await ConverseGuard.open(server.app.state.guardrails, config)
        return guard, await image_guardrail.check_outputs(guard, images)

    guard, flags = asyncio.run_coroutine_threadsafe(screen(), server._loop).result(120)  # type: ignore[arg-type]
    assert flags == [True, False]
    fields = response_fields(guard)
    assert fields["amazon-bedrock-guardrailAction"] == "INTERVENED"
    outputs = [o[output_guard] for o in fields["amazon-bedrock-trace"]["guardrail"]["outputs"]]
    assert [[(f["type"], f["action"]) for f in content_filters(o)] for o in outputs] == [[("SEXUAL", "BLOCKED")], []]
    shape = get_session().get_service_model("bedrock-runtime").shape_for("GuardrailAssessment")
    for assessment in outputs:
        report = ParamValidator().validate(assessment, shape)
        assert not report.has_errors(), report.generate_report()

    sdxl_images = stability_sdxl.filtered(images, flags, b"black")
    assert [(i.png, i.seed, i.flagged) for i in sdxl_images] == [(b"black", 11, True), (images[1].png, 12, False)]
    answer = stability_sd3.answer(images, flags, "png")
    assert answer["finish_reasons"] == ["Filter reason: output image", None] and answer["seeds"] == [11, 12]
    first, second = answer["images"]  # type: ignore[misc]
    assert is_black(first) and base64.b64decode(second) == images[1].png
    assert stability_sd3.answer(images[:1], flags[:1], "png") == {"finish_reasons": ["Filter reason: output image"]}
    titan = titan_image.output_body(2, images, flags, BLOCKED_OUT)
    assert titan == {"images": [PLAIN], "error": f"1 of 2 images: {BLOCKED_OUT}"}


# --- bad input ----------------------------------------------------------------------------------------
def test_image_guardrail_bad_input(clients: tuple[Any, Any], guard: str, served: tuple[ThreadServer, Counted]) -> None:
    import httpx

    server, counted = served
    before = counted.runs
    _, runtime = clients
    for model, body in ((SDXL, sdxl("a cat")), (V2, titan_text("a cat")), (SD35, {"prompt": "a cat"})):
        with pytest.raises(ClientError) as excinfo:
            invoke(runtime, model, body, "zzzzzzzzzzzz")
        assert excinfo.value.response["Error"]["Code"] == "ResourceNotFoundException"
        tagged = {**body, "amazon-bedrock-guardrailConfig": {"tagSuffix": "abc"}}
        with pytest.raises(ClientError) as excinfo:
            invoke(runtime, model, tagged, guard)
        assert excinfo.value.response["Error"]["Code"] == "ValidationException"
        assert "tagSuffix" in excinfo.value.response["Error"]["Message"]
        response = httpx.post(f"{server.url}/model/{model}/invoke", content=json.dumps(body), timeout=60,
                              headers={"Content-Type": "application/json", "X-Amzn-Bedrock-GuardrailIdentifier": guard})
        assert response.status_code == 400 and response.headers["x-amzn-errortype"].startswith("ValidationException")
    assert counted.runs == before

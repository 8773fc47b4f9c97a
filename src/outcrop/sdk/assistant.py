"""`MultimodalAssistant`: the seed's class done right, on boto3, so the same code runs against Amazon
Bedrock and against an outcrop server (point `AWS_ENDPOINT_URL_BEDROCK_RUNTIME` or `endpoint_url`
at it).

Retries: throttling, ModelNotReady, 5xx and connection errors are retried by botocore itself
(`retry_mode`, `max_attempts`: exponential backoff with full jitter). ModelTimeoutException is not
in botocore's retry rules, so the SDK retries it (`model_timeout_retries`) with the same kind of
jittered backoff. Every other failure becomes one of `outcrop.sdk.errors`'s exceptions.
"""

from __future__ import annotations

import json
import random
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from typing import Any, Literal

import boto3
from botocore.config import Config
from botocore.exceptions import ClientError

from outcrop.sdk import chat_bodies, image_bodies
from outcrop.sdk.chat_bodies import ChatApi, StreamEvent
from outcrop.sdk.errors import (
    AssistantError,
    ExtractionError,
    ModelTimeoutError,
    SearchFailedError,
    from_client_error,
)
from outcrop.sdk.image_bodies import ImageCall, Quality
from outcrop.sdk.media import Document, ImageInput, image_bytes, image_size, is_pdf, is_pil_image, png_or_jpeg
from outcrop.sdk.models import Capability, ModelDefaults, image_family
from outcrop.sdk.pricing import PRICES, Price, UsageTally
from outcrop.sdk.results import (
    EmbeddingResult,
    ExtractResult,
    GeneratedImage,
    GuardrailResult,
    ImageResult,
    SearchHit,
    TextResult,
    Usage,
)
from outcrop.sdk.schema import SchemaCheck, schema_check

RetryMode = Literal["standard", "adaptive", "legacy"]
Images = ImageInput | Sequence[ImageInput]

DESCRIBE = "Describe this image in detail."
COMPARE = "Compare these images: what do they have in common and how do they differ? List the differences."
EXTRACT = ("Extract the content of this {what} as one JSON object: its fields as key-value pairs and any table as a "
           "list of rows. Output only the JSON.")
REPAIR = "That answer is not valid: {errors}. Reply with only the corrected JSON, nothing else."


def _as_list(images: Images | None) -> list[ImageInput]:
    """One image or a sequence of images; bytes and str are single images, not sequences."""
    if images is None:
        return []
    if isinstance(images, (bytes, bytearray, memoryview, str)) or is_pil_image(images) or hasattr(images, "__fspath__"):
        return [images]  # type: ignore[list-item]
    return list(images)  # type: ignore[arg-type]


class TextStream:
    """Text as the stream delivers it: iterate for the pieces; once exhausted, `text`, `usage`,
    `stop_reason` and `result` describe the whole answer. Leaving the loop early, `close()` or the
    end of a `with` block closes the connection (on outcrop that cancels the generation)."""

    def __init__(self, events: Iterator[StreamEvent], model_id: str, started: float, request_id: str | None,
                 on_done: Callable[[TextResult], None], wrap: Callable[[ClientError], Exception],
                 input_images: int = 0, closer: Callable[[], None] | None = None) -> None:
        self._events = events
        self._closer = closer
        self._input_images = input_images
        self._model_id = model_id
        self._started = started
        self._request_id = request_id
        self._on_done = on_done
        self._wrap = wrap
        self._parts: list[str] = []
        self.stop_reason: str | None = None
        self.usage = Usage()
        self.result: TextResult | None = None

    def __iter__(self) -> Iterator[str]:
        try:
            for event in self._events:
                if event.text:
                    self._parts.append(event.text)
                    yield event.text
                if event.stop_reason:
                    self.stop_reason = event.stop_reason
                if event.usage is not None:
                    self.usage = Usage(event.usage.input_tokens, event.usage.output_tokens, input_images=self._input_images)
        except ClientError as exc:
            raise self._wrap(exc) from exc
        finally:
            self.close()
        self.result = TextResult(self.text, self._model_id, self.stop_reason, self.usage,
                                 time.perf_counter() - self._started, self._request_id)
        self._on_done(self.result)

    @property
    def text(self) -> str:
        return "".join(self._parts)

    def close(self) -> None:
        """Stop reading; idempotent."""
        closer, self._closer = self._closer, None
        if closer is not None:
            closer()

    def __enter__(self) -> TextStream:
        return self

    def __exit__(self, *_: object) -> None:
        self.close()


class MultimodalAssistant:
    """Image generation and editing, vision chat, document extraction, embeddings and image search
    over `bedrock-runtime`, with typed results, SDK exceptions, retries and a usage/cost tally.

    A drop-in superset of the seed's class: `generate_image(prompt, negative_prompt=None)` returns
    PNG bytes and `analyze_image(image_bytes, question)` a string, sending the seed's own bodies.
    """

    def __init__(self, *, client: Any = None, session: boto3.Session | None = None, region: str | None = None,
                 endpoint_url: str | None = None, models: ModelDefaults | Mapping[str, str] | None = None,
                 prices: Mapping[str, Price] | None = None, retry_mode: RetryMode = "standard", max_attempts: int = 5,
                 read_timeout: float | None = None, config: Config | None = None, model_timeout_retries: int = 2,
                 backoff_base_s: float = 1.0, chat_api: ChatApi = "converse") -> None:
        """With nothing, the standard AWS environment decides (credentials, region,
        `AWS_ENDPOINT_URL_BEDROCK_RUNTIME`). `client` is used as is (its own retry config applies);
        otherwise a client is made from `session` (or a new one), `region` and `endpoint_url` with
        botocore's `retry_mode` and `max_attempts` (every attempt counted). `models` overrides the
        default model per capability; `prices` replaces entries of the price table. `chat_api`
        "invoke" sends Claude ids Anthropic messages bodies on InvokeModel (text and images) instead
        of Converse."""
        if client is not None and (session is not None or region is not None or endpoint_url is not None):
            raise TypeError("pass either client, or session/region/endpoint_url to build one")
        if client is None:
            retries = Config(retries={"mode": retry_mode, "total_max_attempts": max_attempts},
                             **({"read_timeout": read_timeout} if read_timeout is not None else {}))
            merged = retries.merge(config) if config is not None else retries
            client = (session or boto3.Session()).client("bedrock-runtime", region_name=region,
                                                         endpoint_url=endpoint_url, config=merged)
        self.client = client
        self.models = ModelDefaults.of(models)
        self.usage = UsageTally({**PRICES, **(prices or {})})
        self.model_timeout_retries = model_timeout_retries
        self.backoff_base_s = backoff_base_s
        self.chat_api: ChatApi = chat_api
        self._sleep: Callable[[float], None] = time.sleep

    @property
    def endpoint_url(self) -> str:
        return str(self.client.meta.endpoint_url)

    # -- plumbing ------------------------------------------------------------------------------------
    def _call(self, operation: str, model_id: str, **kwargs: Any) -> dict[str, Any]:
        """One boto3 call with SDK exceptions and the ModelTimeout retries botocore does not do."""
        method = getattr(self.client, operation)
        attempt = 0
        while True:
            try:
                return method(modelId=model_id, **kwargs)  # type: ignore[no-any-return]
            except ClientError as exc:
                error = from_client_error(exc, model_id)
                if not isinstance(error, ModelTimeoutError) or attempt >= self.model_timeout_retries:
                    raise error from exc
            # Full jitter, as botocore's own backoff: a random wait up to base * 2^attempt, at most 20 s.
            self._sleep(random.uniform(0, min(20.0, self.backoff_base_s * 2**attempt)))
            attempt += 1

    def _invoke(self, model_id: str, body: dict[str, Any]) -> tuple[dict[str, Any], str | None]:
        response = self._call("invoke_model", model_id, body=json.dumps(body), contentType="application/json",
                              accept="application/json")
        return json.loads(response["body"].read()), response.get("ResponseMetadata", {}).get("RequestId")

    def _model(self, capability: Capability, model: str | None) -> str:
        return self.models.pick(capability, model)

    # -- image generation ----------------------------------------------------------------------------
    def _run_images(self, model_id: str, calls: list[ImageCall]) -> ImageResult:
        family = image_family(model_id)
        started = time.perf_counter()
        images: list[GeneratedImage] = []
        request_ids: list[str] = []
        mask: bytes | None = None
        usage = Usage()
        for call in calls:
            payload, request_id = self._invoke(model_id, call.body)
            got, got_mask = image_bodies.parse_images(family, payload, call)
            images += got
            mask = mask or got_mask
            if request_id:
                request_ids.append(request_id)
            call_usage = Usage(images=len(got), steps=call.steps * len(got))
            self.usage.record(model_id, call_usage, pixels=call.pixels, premium=call.premium)
            usage = usage + call_usage
        if not images:
            raise AssistantError(f"{model_id} returned no images")
        return ImageResult(images, model_id, calls[0].seed, usage, time.perf_counter() - started, request_ids, mask)

    def generate_image(self, prompt: str, negative_prompt: str | None = None, **options: Any) -> bytes:
        """The seed's method: PNG bytes of one 1024×1024 image. With the default SDXL model it sends
        the seed's body (cfg_scale 8, 50 steps); `options` go to `generate_images`."""
        model_id = self._model("image", options.pop("model", None))
        if image_family(model_id) == "sdxl":
            options = {"cfg_scale": 8, "steps": 50, **options}
        return self.generate_images(prompt, negative_prompt=negative_prompt, model=model_id, **options).data

    def generate_images(self, prompt: str, *, n: int = 1, size: tuple[int, int] | str | None = None,
                        steps: int | None = None, cfg_scale: float | None = None, seed: int | None = None,
                        style: str | None = None, negative_prompt: str | None = None, quality: Quality | None = None,
                        model: str | None = None) -> ImageResult:
        """`n` images for a prompt. `size` is (w, h) or "WxH" (default 1024×1024); `style` is SDXL's
        `style_preset` or Nova Canvas's `style`; `steps` is SDXL's, `quality` Titan/Nova's. Without
        `seed` the SDK picks one and reports it, so any result can be made again."""
        model_id = self._model("image", model)
        family = image_family(model_id)
        calls = image_bodies.text_to_image(family, prompt, negative=negative_prompt, n=n, size=image_bodies.parse_size(size),
                                           steps=steps, cfg_scale=cfg_scale, seed=seed, style=style, quality=quality)
        return self._run_images(model_id, calls)

    def vary_image(self, image: Images, prompt: str | None = None, *, similarity: float = 0.7, n: int = 1,
                   size: tuple[int, int] | str | None = None, seed: int | None = None, cfg_scale: float | None = None,
                   negative_prompt: str | None = None, quality: Quality | None = None,
                   model: str | None = None) -> ImageResult:
        """Variations of one image (Titan/Nova: up to 5 blended images) that keep `similarity` (0.2..1)
        of it; on SDXL this is image-to-image with `image_strength = similarity`."""
        model_id = self._model("edit", model)
        family = image_family(model_id)
        sources = [png_or_jpeg(i) for i in _as_list(image)]
        width, height = image_size(sources[0])
        calls = image_bodies.variation(family, sources, prompt=prompt, negative=negative_prompt, similarity=similarity,
                                       n=n, size=image_bodies.parse_size(size) if size else None, seed=seed,
                                       cfg_scale=cfg_scale, quality=quality, pixels=width * height)
        return self._run_images(model_id, calls)

    def inpaint(self, image: ImageInput, mask: ImageInput | None = None, mask_prompt: str | None = None, *,
                prompt: str | None = None, negative_prompt: str | None = None, n: int = 1, seed: int | None = None,
                cfg_scale: float | None = None, quality: Quality | None = None, model: str | None = None) -> ImageResult:
        """Repaint the masked region with `prompt`: `mask` is an image of the same size whose black
        pixels are repainted, or `mask_prompt` names the region in words (Titan/Nova)."""
        return self._masked("INPAINTING", image, mask, mask_prompt, prompt, negative_prompt, n, seed, cfg_scale,
                            quality, model, None)

    def outpaint(self, image: ImageInput, mask: ImageInput | None = None, mask_prompt: str | None = None, *,
                 prompt: str, negative_prompt: str | None = None, mode: Literal["DEFAULT", "PRECISE"] = "DEFAULT",
                 n: int = 1, seed: int | None = None, cfg_scale: float | None = None, quality: Quality | None = None,
                 model: str | None = None) -> ImageResult:
        """Keep the masked region (black pixels of `mask`, or what `mask_prompt` names) and paint the
        rest from `prompt`; `mode` PRECISE keeps the mask edge hard (Titan/Nova)."""
        return self._masked("OUTPAINTING", image, mask, mask_prompt, prompt, negative_prompt, n, seed, cfg_scale,
                            quality, model, mode)

    def _masked(self, task: Literal["INPAINTING", "OUTPAINTING"], image: ImageInput, mask: ImageInput | None,
                mask_prompt: str | None, prompt: str | None, negative: str | None, n: int, seed: int | None,
                cfg_scale: float | None, quality: Quality | None, model: str | None, mode: str | None) -> ImageResult:
        model_id = self._model("edit", model)
        source = png_or_jpeg(image)
        width, height = image_size(source)
        calls = image_bodies.masked_edit(image_family(model_id), task, source,
                                         mask=png_or_jpeg(mask) if mask is not None else None, mask_prompt=mask_prompt,
                                         prompt=prompt, negative=negative, n=n, seed=seed, cfg_scale=cfg_scale,
                                         quality=quality, pixels=width * height, outpainting_mode=mode)
        return self._run_images(model_id, calls)

    def remove_background(self, image: ImageInput, *, model: str | None = None) -> ImageResult:
        """The subject on a transparent background (RGBA PNG), Titan v2 or Nova Canvas."""
        model_id = self._model("edit", model)
        source = png_or_jpeg(image)
        width, height = image_size(source)
        return self._run_images(model_id, image_bodies.remove_background(image_family(model_id), source, width * height))

    # -- vision chat -----------------------------------------------------------------------------------
    def _content(self, question: str, images: Images | None, documents: Sequence[Any]) -> tuple[list[dict[str, Any]], int]:
        blocks: list[dict[str, Any]] = []
        pictures = _as_list(images)
        for picture in pictures:
            data, kind = image_bytes(picture)
            blocks.append({"image": {"format": kind, "source": {"bytes": data}}})
        names: set[str] = set()
        for item in documents:
            doc = Document.of(item)
            name, i = doc.name, 1
            while name in names:  # Converse refuses two documents with one name
                i += 1
                name = f"{doc.name} ({i})"
            names.add(name)
            blocks.append({"document": {"format": doc.format, "name": name, "source": {"bytes": doc.data}}})
        blocks.append({"text": question})
        return blocks, len(pictures)

    def _chat(self, model_id: str, messages: list[dict[str, Any]], system: str | None, max_tokens: int | None,
              temperature: float | None, input_images: int) -> TextResult:
        """One chat call through Converse, or an Anthropic messages body for Claude when chat_api='invoke'."""
        started = time.perf_counter()
        if chat_bodies.uses_anthropic_body(self.chat_api, model_id):
            payload, request_id = self._invoke(model_id, chat_bodies.anthropic_body(messages, system, max_tokens, temperature))
            reply = chat_bodies.anthropic_reply(payload, request_id)
        else:
            reply = chat_bodies.converse_reply(
                self._call("converse", model_id, **chat_bodies.converse_request(messages, system, max_tokens, temperature)))
        usage = Usage(input_tokens=reply.usage.input_tokens, output_tokens=reply.usage.output_tokens,
                      input_images=input_images)
        self.usage.record(model_id, usage)
        return TextResult(reply.text, model_id, reply.stop_reason, usage, time.perf_counter() - started, reply.request_id)

    def ask(self, question: str, *, images: Images | None = None, documents: Sequence[Any] = (), system: str | None = None,
            max_tokens: int | None = None, temperature: float | None = None, model: str | None = None) -> TextResult:
        """Answer `question` about any number of images (bytes, paths, PIL images) and documents
        (paths, PDF bytes or `Document`s) with a Converse call."""
        model_id = self._model("vision", model)
        content, count = self._content(question, images, documents)
        return self._chat(model_id, [{"role": "user", "content": content}], system, max_tokens, temperature, count)

    def ask_stream(self, question: str, *, images: Images | None = None, documents: Sequence[Any] = (),
                   system: str | None = None, max_tokens: int | None = None, temperature: float | None = None,
                   model: str | None = None) -> TextStream:
        """`ask` as a stream (ConverseStream, or InvokeModelWithResponseStream for Anthropic bodies):
        iterate the returned stream for text as it is generated."""
        model_id = self._model("vision", model)
        content, count = self._content(question, images, documents)
        messages = [{"role": "user", "content": content}]
        started = time.perf_counter()
        if chat_bodies.uses_anthropic_body(self.chat_api, model_id):
            body = chat_bodies.anthropic_body(messages, system, max_tokens, temperature)
            response = self._call("invoke_model_with_response_stream", model_id, body=json.dumps(body),
                                  contentType="application/json", accept="application/json")
            raw = response["body"]
            events = chat_bodies.anthropic_events(raw)
        else:
            response = self._call("converse_stream", model_id,
                                  **chat_bodies.converse_request(messages, system, max_tokens, temperature))
            raw = response["stream"]
            events = chat_bodies.converse_events(raw)

        return TextStream(events, model_id, started, response.get("ResponseMetadata", {}).get("RequestId"),
                          lambda result: self.usage.record(model_id, result.usage),
                          lambda exc: from_client_error(exc, model_id), input_images=count, closer=raw.close)

    def describe(self, images: Images, *, question: str = DESCRIBE, documents: Sequence[Any] = (),
                 max_tokens: int | None = None, model: str | None = None) -> TextResult:
        """A description of one or several images."""
        return self.ask(question, images=images, documents=documents, max_tokens=max_tokens, model=model)

    def analyze_image(self, image_bytes: ImageInput, question: str) -> str:
        """The seed's method: the answer to `question` about one image, as a string."""
        return self.ask(question, images=[image_bytes]).text

    def compare_images(self, *images: ImageInput, question: str = COMPARE, max_tokens: int | None = None,
                       model: str | None = None) -> TextResult:
        """What two or more images share and how they differ."""
        if len(images) < 2:
            raise ValueError("compare_images needs at least two images")
        return self.ask(question, images=list(images), max_tokens=max_tokens, model=model)

    def extract(self, source: ImageInput | Document, schema: Any = None, *, prompt: str | None = None,
                max_tokens: int | None = None, model: str | None = None) -> ExtractResult:
        """Parsed JSON read from an image or a PDF. With `schema` (a JSON Schema dict or a pydantic
        model class) the answer is validated; an invalid answer gets one repair round in which the
        model sees its answer and the errors, then `ExtractionError`."""
        model_id = self._model("vision", model)
        check = schema_check(schema)
        as_document = isinstance(source, Document) or is_pdf(source)
        text = prompt or EXTRACT.format(what="document" if as_document else "image")
        if check is not None:
            text += " It must conform to this JSON Schema: " + json.dumps(check.json_schema, ensure_ascii=False)
        if as_document:
            content, count = self._content(text, None, [source])
        else:
            content, count = self._content(text, [source], ())  # type: ignore[list-item]
        messages = [{"role": "user", "content": content}]
        started = time.perf_counter()
        usage = Usage()
        for attempt in range(2):
            answer = self._chat(model_id, messages, None, max_tokens, None, count if attempt == 0 else 0)
            usage = usage + answer.usage
            data, value, errors = _parse_json(answer.text, check)
            if not errors:
                return ExtractResult(data, value, answer.text, attempt == 1, model_id, usage, time.perf_counter() - started)
            messages += [{"role": "assistant", "content": [{"text": answer.text or "(empty)"}]},
                         {"role": "user", "content": [{"text": REPAIR.format(errors="; ".join(errors[:5]))}]}]
        raise ExtractionError(f"{model_id} gave no valid JSON after one repair round: {'; '.join(errors[:5])}",
                              answer.text, errors)

    # -- embeddings and search --------------------------------------------------------------------
    def _embed(self, model_id: str, body: dict[str, Any], dimensions: int | None, input_images: int) -> EmbeddingResult:
        if dimensions is not None:
            body["embeddingConfig"] = {"outputEmbeddingLength": dimensions}
        started = time.perf_counter()
        payload, request_id = self._invoke(model_id, body)
        tokens = int(payload.get("inputTextTokenCount") or 0)
        usage = Usage(input_tokens=tokens, input_images=input_images)
        self.usage.record(model_id, usage)
        return EmbeddingResult(payload["embedding"], model_id, tokens, usage, time.perf_counter() - started, request_id)

    def embed_text(self, text: str, *, dimensions: int | None = None, model: str | None = None) -> EmbeddingResult:
        """A text's vector (1024, 384 or 256 dimensions) in the space images share."""
        return self._embed(self._model("embedding", model), {"inputText": text}, dimensions, 0)

    def embed_image(self, image: ImageInput, *, text: str | None = None, dimensions: int | None = None,
                    model: str | None = None) -> EmbeddingResult:
        """An image's vector; with `text`, Titan's joint embedding of both."""
        data, _ = image_bytes(image)
        body: dict[str, Any] = {"inputImage": image_bodies.b64(data)}
        if text is not None:
            body["inputText"] = text
        return self._embed(self._model("embedding", model), body, dimensions, 1)

    # -- guardrails ----------------------------------------------------------------------------------
    def check(self, text: str | None = None, *, image: Images | None = None, guardrail: str, version: str = "DRAFT",
              source: Literal["INPUT", "OUTPUT"] = "INPUT", full: bool = False) -> GuardrailResult:
        """Run a guardrail (`guardrail` id or ARN, or "ID:VERSION") over text and/or one or more images
        (PNG or JPEG), as Bedrock's ApplyGuardrail does, without calling any model. `full` asks for
        every assessment (outputScope FULL), not only the policies that intervened."""
        if ":" in guardrail and not guardrail.startswith("arn:"):
            guardrail, version = guardrail.rsplit(":", 1)
        content: list[dict[str, Any]] = []
        if text is not None:
            content.append({"text": {"text": text}})
        for picture in _as_list(image):
            data, kind = image_bytes(picture)
            content.append({"image": {"format": kind, "source": {"bytes": data}}})
        if not content:
            raise TypeError("check() needs text, an image or both")
        extra = {"outputScope": "FULL"} if full else {}
        started = time.perf_counter()
        try:
            response = self.client.apply_guardrail(guardrailIdentifier=guardrail, guardrailVersion=version,
                                                   source=source, content=content, **extra)
        except ClientError as exc:
            raise from_client_error(exc) from exc
        return GuardrailResult(
            guardrail_id=guardrail, version=version, action=response["action"],
            outputs=[output.get("text", "") for output in response.get("outputs", [])],
            assessments=response.get("assessments", []), latency_s=time.perf_counter() - started,
            request_id=response.get("ResponseMetadata", {}).get("RequestId"),
            response={k: v for k, v in response.items() if k != "ResponseMetadata"})

    def search_images(self, query: str | None = None, *, image: ImageInput | None = None, collection: str = "default",
                      k: int = 10, folder: str | None = None, after: float | None = None, before: float | None = None,
                      min_bytes: int | None = None, endpoint: str | None = None, timeout: float = 60.0) -> list[SearchHit]:
        """Hits best first from an outcrop server's image index (`/outcrop/v1/collections/{name}/search`,
        not a Bedrock API) for a text or an example image; `endpoint` defaults to this client's."""
        from outcrop.search.client import search_images
        from outcrop.search.store import SearchError

        data = image_bytes(image)[0] if image is not None else None
        try:
            hits = search_images(query, image=data, collection=collection, k=k, server=endpoint or self.endpoint_url,
                                 folder=folder, after=after, before=before, min_bytes=min_bytes, timeout=timeout,
                                 region=self.client.meta.region_name)
        except SearchError as exc:
            raise SearchFailedError(str(exc)) from exc
        return [SearchHit.from_dict(hit) for hit in hits]


def _parse_json(text: str, check: SchemaCheck | None) -> tuple[Any, Any, list[str]]:
    """(data, value, errors): the JSON in an answer (a ```json fence tolerated), checked by `check`."""
    body = text.strip()
    if body.startswith("```"):
        body = body.split("\n", 1)[-1].rsplit("```", 1)[0]
    try:
        data = json.loads(body)
    except json.JSONDecodeError as exc:
        return None, None, [f"not JSON ({exc.msg} at character {exc.pos})"]
    if check is None:
        return data, data, []
    value, errors = check.validate(data)
    return data, value, errors

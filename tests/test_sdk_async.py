"""`AsyncMultimodalAssistant`: every method awaited against the served `test` profile through real
boto3 (and the same answers as the sync class), 16 calls truly in flight at once against a server
that counts them, streams left early, retries and errors through `await`, and Bedrock's documented
shapes through botocore's Stubber."""

from __future__ import annotations

import asyncio
import base64
import io
import json
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import boto3
import pytest
from botocore.stub import Stubber
from PIL import Image

from outcrop import AsyncMultimodalAssistant, MultimodalAssistant
from outcrop.sdk import AsyncTextStream, ThrottlingError, ValidationError
from servers import ServerProcess, free_port
from test_sdk import (  # noqa: F401  (search_server is a fixture)
    NOVA,
    NOVA_LITE,
    TITAN,
    FlakyBedrock,
    Recorder,
    converse_response,
    invoke_response,
    mask_png,
    pdf_bytes,
    png,
    search_server,
)


def test_every_method_awaited_against_the_test_profile(server: ServerProcess, tmp_path: Path) -> None:
    source = tmp_path / "photo.png"
    source.write_bytes(png())
    sync = MultimodalAssistant()

    async def main() -> None:
        async with AsyncMultimodalAssistant() as assistant:
            assert assistant.endpoint_url == server.url and assistant.client.meta.config.max_pool_connections == 16
            image = await assistant.generate_image("a cafe", "blurry")
            assert image.startswith(b"\x89PNG") and Image.open(io.BytesIO(image)).size == (1024, 1024)
            assert isinstance(await assistant.analyze_image(image, "style?"), str)

            made = await assistant.generate_images("a lighthouse", n=2, steps=10, seed=7)
            assert [i.seed for i in made.images] == [7, 8] and made.usage.steps == 20
            assert made.data == sync.generate_images("a lighthouse", steps=10, seed=7).data  # same body, same bytes
            varied = await assistant.vary_image(source, "at night", n=2, size=(512, 512), seed=1)
            assert len(varied.images) == 2 and varied.model_id == TITAN
            painted = await assistant.inpaint(source, mask_png(), prompt="a red car", seed=2)
            by_words = await assistant.inpaint(source, mask_prompt="yellow square", prompt="a red car")
            out = await assistant.outpaint(source, mask_png(), prompt="a beach", mode="PRECISE", model=NOVA)
            cut = await assistant.remove_background(source)
            assert painted.image.size == by_words.image.size == out.image.size == (320, 320) and cut.image.mode == "RGBA"

            answer = await assistant.ask("What is it?", images=[png(), png(color="red")], documents=[pdf_bytes()],
                                         max_tokens=8, model=NOVA_LITE)
            assert answer.text == sync.ask("What is it?", images=[png(), png(color="red")], documents=[pdf_bytes()],
                                           max_tokens=8, model=NOVA_LITE).text  # greedy: the same answer
            assert answer.usage.input_images == 2 and 0 < answer.usage.output_tokens <= 8 and answer.request_id
            described = await assistant.describe(png(), max_tokens=6)
            compared = await assistant.compare_images(png(), png(color="red"), max_tokens=6)
            assert described.usage.output_tokens <= 6 and compared.usage.input_images == 2
            extracted = await assistant.extract(png(), max_tokens=32)
            assert extracted.data == json.loads(extracted.text.strip())

            stream = assistant.ask_stream("Describe it.", images=png(), max_tokens=10)
            assert isinstance(stream, AsyncTextStream) and stream.result is None
            pieces = [piece async for piece in stream]
            assert pieces and stream.text == "".join(pieces) == sync.ask("Describe it.", images=png(), max_tokens=10).text
            assert stream.result is not None and stream.stop_reason in ("end_turn", "max_tokens")
            assert 0 < stream.usage.output_tokens <= 10 and stream.usage.input_images == 1

            text = await assistant.embed_text("赤い車")
            assert text.vector == pytest.approx(sync.embed_text("赤い車").vector, abs=1e-6)
            picture = await assistant.embed_image(png(), text="a red car", dimensions=256)
            assert picture.dimensions == 256 and picture.input_tokens > 0

            control = boto3.client("bedrock", endpoint_url=server.url)
            guardrail = control.create_guardrail(
                name="async-sdk", blockedInputMessaging="no", blockedOutputsMessaging="no",
                sensitiveInformationPolicyConfig={"piiEntitiesConfig": [{"type": "EMAIL", "action": "ANONYMIZE"}]})
            verdict = await assistant.check("Write to taro@example.com", guardrail=guardrail["guardrailId"], source="OUTPUT")
            assert verdict.intervened and verdict.outputs == ["Write to {EMAIL}"]

            tally = assistant.usage
            assert tally is assistant.sync.usage and tally.calls == 16 and tally.total.images == 9  # check() calls no model

    asyncio.run(main())


def test_search_images_awaited(search_server: tuple[str, Path]) -> None:  # noqa: F811
    url, photos = search_server

    async def main() -> None:
        async with AsyncMultimodalAssistant(endpoint_url=url, region="us-east-1") as assistant:
            by_text, by_image = await asyncio.gather(
                assistant.search_images("a red circle", collection="photos", k=3),
                assistant.search_images(image=photos / "green_ellipse_1.png", collection="photos", k=1))
        assert len(by_text) == 3 and by_image[0].path == str(photos / "green_ellipse_1.png")

    asyncio.run(main())


class SlowBedrock:
    """An InvokeModel endpoint that holds every request `delay_s` and counts how many it holds at once."""

    def __init__(self, delay_s: float) -> None:
        self.lock = threading.Lock()
        self.in_flight = self.peak = self.hits = 0
        self.peers: set[int] = set()
        owner = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"  # keep-alive, as Bedrock: connections are reused from botocore's pool

            def do_POST(self) -> None:
                self.rfile.read(int(self.headers.get("content-length", 0)))
                with owner.lock:
                    owner.in_flight += 1
                    owner.hits += 1
                    number = owner.hits
                    owner.peak = max(owner.peak, owner.in_flight)
                    owner.peers.add(self.client_address[1])
                time.sleep(delay_s)
                with owner.lock:
                    owner.in_flight -= 1
                body = json.dumps({"embedding": [1.0, 0.0], "inputTextTokenCount": 2}).encode()
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(body)))
                self.send_header("x-amzn-RequestId", f"slow-{number}")
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *_: Any) -> None:
                pass

        self.httpd = ThreadingHTTPServer(("127.0.0.1", free_port()), Handler)
        self.httpd.daemon_threads = True
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}"

    def __enter__(self) -> SlowBedrock:
        threading.Thread(target=self.httpd.serve_forever, daemon=True).start()
        return self

    def __exit__(self, *_: Any) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()


def test_sixteen_calls_in_flight_at_once_and_the_loop_stays_free() -> None:
    """Concurrency 16: the server holds all 16 at once, over 16 kept-alive connections (not botocore's
    default pool of 10), the batch takes about one delay rather than 16, and the event loop keeps
    running other work meanwhile."""
    delay = 0.5
    with SlowBedrock(delay) as slow:
        async def main() -> tuple[list[Any], float, int]:
            ticks = 0

            async def ticker() -> None:
                nonlocal ticks
                while True:
                    await asyncio.sleep(0.01)
                    ticks += 1

            async with AsyncMultimodalAssistant(endpoint_url=slow.url, region="us-east-1", max_concurrency=16) as assistant:
                beat = asyncio.create_task(ticker())
                started = time.perf_counter()
                results = await asyncio.gather(*(assistant.embed_text(f"photo {i}") for i in range(16)))
                elapsed = time.perf_counter() - started
                beat.cancel()
                second = await asyncio.gather(*(assistant.embed_text(f"again {i}") for i in range(16)))
                assert assistant.usage.calls == 32 and assistant.usage.total.input_tokens == 64
            return results + second, elapsed, ticks

        results, elapsed, ticks = asyncio.run(main())
    assert slow.peak == 16 and slow.hits == 32
    assert len(slow.peers) == 16  # the second batch reused the first batch's 16 connections
    assert elapsed < 16 * delay / 4 and ticks >= delay / 0.01 / 4
    assert sorted(r.request_id for r in results) == sorted(f"slow-{i}" for i in range(1, 33))


def test_max_concurrency_bounds_the_calls_in_flight() -> None:
    with SlowBedrock(0.2) as slow:
        async def main() -> None:
            async with AsyncMultimodalAssistant(endpoint_url=slow.url, region="us-east-1", max_concurrency=4) as assistant:
                await asyncio.gather(*(assistant.embed_text("x") for _ in range(12)))

        asyncio.run(main())
    assert slow.peak == 4 and slow.hits == 12
    with pytest.raises(ValueError):
        AsyncMultimodalAssistant(max_concurrency=0)


def test_a_stream_left_early_is_closed(server: ServerProcess) -> None:
    async def main() -> None:
        async with AsyncMultimodalAssistant() as assistant:
            full = [p async for p in assistant.ask_stream("Describe it.", images=png(), max_tokens=10)]
            async with assistant.ask_stream("Describe it.", images=png(), max_tokens=64) as early:
                pieces = early.__aiter__()
                first = await anext(pieces)
                await pieces.aclose()
            assert first == full[0] and early.result is None
            with pytest.raises(RuntimeError):
                [p async for p in early]  # read once
            again = await assistant.ask("Describe it.", images=png(), max_tokens=10)
            assert again.text == "".join(full)  # the server is free and answers as before

    asyncio.run(main())


def test_throttled_twice_then_success_through_await() -> None:
    with FlakyBedrock([(429, "ThrottlingException"), (429, "ThrottlingException")]) as flaky:
        async def main() -> Any:
            async with AsyncMultimodalAssistant(endpoint_url=flaky.url, region="us-east-1") as assistant:
                return await assistant.embed_text("hello")

        result = asyncio.run(main())
    assert result.vector == [1.0] and result.request_id == "flaky-3" and flaky.hits == 3
    assert len(set(flaky.invocation_ids)) == 1  # one call, retried by botocore
    with FlakyBedrock([(429, "ThrottlingException")] * 2) as flaky:
        async def exhausted() -> None:
            async with AsyncMultimodalAssistant(endpoint_url=flaky.url, region="us-east-1", max_attempts=2) as assistant:
                await assistant.embed_text("hello")

        with pytest.raises(ThrottlingError) as info:
            asyncio.run(exhausted())
    assert info.value.request_id == "flaky-2" and info.value.status == 429


def test_errors_and_a_wrapped_stubbed_assistant() -> None:
    """Bedrock's documented shapes through the Stubber, awaited: the async class uses the sync one's
    client, parsers and tally."""
    client = boto3.client("bedrock-runtime", region_name="us-east-1")
    sync = MultimodalAssistant(client=client)
    recorder = Recorder(client)
    encoded = base64.b64encode(png((64, 64))).decode()
    with Stubber(client) as stubber:
        stubber.add_response("invoke_model", invoke_response({"images": [encoded, encoded], "error": None}, "t-9"))
        stubber.add_response("converse", converse_response("A teal square.", 1500, 6))
        stubber.add_client_error("invoke_model", "ValidationException", "Malformed input request", 400,
                                 response_meta={"RequestId": "bad-1"})

        async def main() -> None:
            async with AsyncMultimodalAssistant(assistant=sync) as assistant:
                assert assistant.sync is sync and assistant.client is client
                made = await assistant.generate_images("x", n=2, size=(512, 512), seed=3, model=TITAN)
                assert len(made.images) == 2 and made.request_ids == ["t-9"]
                said = await assistant.ask("What?", images=png(), model=NOVA_LITE)
                assert said.text == "A teal square." and said.usage.input_tokens == 1500
                with pytest.raises(ValidationError) as info:
                    await assistant.embed_text("x")
                assert info.value.request_id == "bad-1" and info.value.status == 400

        asyncio.run(main())
        stubber.assert_no_pending_responses()
    assert recorder.bodies()[0]["imageGenerationConfig"] == {"numberOfImages": 2, "seed": 3, "width": 512, "height": 512}
    assert sync.usage.by_model[TITAN].usage.images == 2 and sync.usage.by_model[NOVA_LITE].calls == 1

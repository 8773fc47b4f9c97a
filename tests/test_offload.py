"""Bodies are parsed (images decoded, documents rendered) on the parse pool, never on the event loop,
for every image-taking protocol: through `Runtime.invoke` on the test profile, recording which thread
decodes each image."""

from __future__ import annotations

import asyncio
import base64
import json
import threading
from typing import Any

import pytest

from images import image_bytes, shape_image
from outcrop.config import Settings
from outcrop.protocols import chat_content, images
from outcrop.protocols.base import CONVERSE, INVOKE_MODEL
from outcrop.protocols.offload import THREAD_PREFIX
from outcrop.runtime import Runtime

PNG = base64.b64encode(image_bytes(shape_image((200, 30, 30), (64, 64)))).decode()
CALLS = [
    (INVOKE_MODEL, "amazon.titan-embed-image-v1", {"inputImage": PNG}),
    (INVOKE_MODEL, "amazon.titan-image-generator-v2:0",
     {"taskType": "IMAGE_VARIATION", "imageVariationParams": {"images": [PNG, PNG], "text": "a cat"},
      "imageGenerationConfig": {"width": 512, "height": 512, "numberOfImages": 1, "seed": 1}}),
    (CONVERSE, "amazon.nova-lite-v1:0",
     {"messages": [{"role": "user", "content": [{"image": {"format": "png", "source": {"bytes": PNG}}}, {"text": "hi"}]}],
      "inferenceConfig": {"maxTokens": 2}}),
    (INVOKE_MODEL, "anthropic.claude-3-sonnet-20240229-v1:0",
     {"anthropic_version": "bedrock-2023-05-31", "max_tokens": 2, "messages": [{"role": "user", "content": [
         {"type": "image", "source": {"type": "base64", "media_type": "image/png", "data": PNG}}, {"type": "text", "text": "hi"}]}]}),
]


@pytest.mark.parametrize(("operation", "model_id", "body"), CALLS, ids=[c[1] for c in CALLS])
def test_images_decode_off_the_loop(monkeypatch: pytest.MonkeyPatch, operation: str, model_id: str, body: dict[str, Any]) -> None:
    threads: list[str] = []
    original = images.open_image

    def recording(*args: Any, **kwargs: Any) -> Any:
        threads.append(threading.current_thread().name)
        return original(*args, **kwargs)

    for module in (images, chat_content):
        monkeypatch.setattr(module, "open_image", recording)
    runtime = Runtime.build(Settings.from_env(profile="test"), engine_wait_s=600)

    async def call() -> None:
        try:
            await runtime.invoke(operation, model_id, json.dumps(body).encode(), headers={"content-type": "application/json"})
        finally:
            await runtime.pool.stop()

    asyncio.run(call())
    assert threads and all(name.startswith(THREAD_PREFIX) for name in threads), threads

"""Shared helpers for the image-generation tests: invoke a model, decode its PNGs."""

from __future__ import annotations

import base64
import io
import json
from typing import Any

from PIL import Image


def invoke(client: Any, model: str, body: dict[str, Any]) -> dict[str, Any]:
    response = client.invoke_model(modelId=model, body=json.dumps(body))
    assert response["contentType"] == "application/json"
    return json.loads(response["body"].read())


def png(data: str) -> Image.Image:
    raw = base64.b64decode(data)
    assert raw.startswith(b"\x89PNG\r\n\x1a\n")
    image = Image.open(io.BytesIO(raw))
    image.load()
    return image

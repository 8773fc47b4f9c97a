"""Decode-only weight quantization of the chat model's language model (outcrop/engines/quantization.py):
quantized kernels for the few rows of a decode step, the bf16 weights for prefill, through the engine's
`quantize` option and a real server."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest
import torch

from conftest import make_client
from outcrop.engines.quantization import decode_only, quantize_language_model
from servers import ThreadServer

torch.manual_seed(0)


@pytest.mark.parametrize("scheme", ["int8", "int4"])
def test_decode_rows_use_the_quantized_weights_and_prefill_the_full_ones(scheme: str) -> None:
    linear = torch.nn.Linear(256, 384, bias=True, dtype=torch.bfloat16)
    switch = decode_only(linear, scheme, decode_rows=4)  # type: ignore[arg-type]
    with torch.inference_mode():
        few, many = torch.randn(1, 3, 256, dtype=torch.bfloat16), torch.randn(1, 40, 256, dtype=torch.bfloat16)
        assert torch.equal(switch(many), linear(many))  # prefill: exactly the bf16 layer
        exact, approx = linear(few).float(), switch(few).float()
        assert not torch.equal(exact, approx)  # decode really went through the quantized weights ...
        error = (approx - exact).norm() / exact.norm()
        assert error < (0.02 if scheme == "int8" else 0.15), error  # ... and stayed close to bf16
    assert switch.weight is linear.weight


def test_the_vision_tower_is_left_alone_and_fp32_models_are_skipped(tmp_path: Path) -> None:
    from transformers import AutoModelForImageTextToText

    from outcrop.testing.builtin import materialize

    folder = materialize("tiny-qwen2.5-vl", tmp_path)
    model = AutoModelForImageTextToText.from_pretrained(folder, dtype=torch.float32)
    assert quantize_language_model(model, "int8") == 0  # fp32: the kernels take bf16
    model = AutoModelForImageTextToText.from_pretrained(folder, dtype=torch.bfloat16)
    swapped = quantize_language_model(model, "int8")
    assert swapped == 2 * 7 + 1  # q, k, v, o, gate, up, down per layer, and the LM head
    assert all(type(m).__name__ != "DecodeQuantized" for m in model.model.visual.modules())


@pytest.fixture(scope="module")
def quantized_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ThreadServer]:
    models = ('[models."test.quantized-chat-v1"]\nprotocol = "converse"\nengine = "vision-chat"\n'
              'weights = "builtin:tiny-qwen2.5-vl"\ndtype = "bfloat16"\ndevice = "cpu"\n'
              'options = { quantize = "int8", max_output_tokens = 64 }\n')
    with ThreadServer.for_profile("test", models, tmp_path_factory.mktemp("models")) as server:
        yield server


def test_a_quantized_model_serves_converse(quantized_server: ThreadServer) -> None:
    client = make_client(quantized_server.url)
    response = client.converse(modelId="test.quantized-chat-v1", messages=[
        {"role": "user", "content": [{"text": "hello"}]}], inferenceConfig={"maxTokens": 12})
    assert response["usage"]["outputTokens"] >= 1
    engine = quantized_server.engine("test.quantized-chat-v1")
    assert sum(type(m).__name__ == "DecodeQuantized" for m in engine.model.modules()) == 15
    assert json.dumps(response["output"])  # a well-formed Converse answer

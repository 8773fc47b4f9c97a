"""The JSON and OCR intent rules (protocols/output_intent.py) on their own, examples and counter-examples;
and through a server: a mention of JSON gets no JSON-constrained answer, an explicit request does."""

from __future__ import annotations

import json
from typing import Any

import pytest

from outcrop.protocols.output_intent import asks_for_json, asks_for_text_reading

ASKS_JSON = [
    "このドキュメントからすべてのテキストを抽出してJSON形式にしてください。",  # the seed
    "結果をJSONで返してください",
    "JSONとして出力して",
    "商品名と価格を JSON にまとめて",
    "Return the fields as JSON.",
    "Answer in JSON.",
    "Please respond with valid JSON only",
    "Give me a JSON object with name and price",
    "Output JSON with keys a and b",
    "Format the result as a JSON array.",
    "json only, no prose",
]
NOT_JSON = [
    "Do not answer in JSON.",
    "Don't use JSON, plain sentences please.",
    "Answer in prose rather than JSON",
    "Without JSON please: just tell me.",
    "JSONではなく、普通の文章で答えてください",
    "JSONで答えないでください",
    "What is JSON?",
    "Explain the difference between JSON and YAML.",
    "JSONとYAMLの違いは何ですか",
    "My jsonschema validator fails, why?",
    "Describe this photo.",
]
READS_TEXT = ["この画像の文字を読み取ってください", "Transcribe the receipt", "Run OCR on this", "Extract the table",
              "請求書の金額を抽出して", "Return the line items as JSON."]
NO_READING = ["Is this photo mediocre?", "What is the mood of this picture?", "Describe the interior style.",
              "このインテリアデザインのスタイルは？", "Do not answer in JSON; what colour is the car?"]


@pytest.mark.parametrize("text", ASKS_JSON)
def test_asks_for_json(text: str) -> None:
    assert asks_for_json(text)


@pytest.mark.parametrize("text", NOT_JSON)
def test_mentions_json_without_asking(text: str) -> None:
    assert not asks_for_json(text)


@pytest.mark.parametrize("text", READS_TEXT)
def test_asks_for_text_reading(text: str) -> None:
    assert asks_for_text_reading(text)


@pytest.mark.parametrize("text", NO_READING)
def test_no_text_reading(text: str) -> None:
    assert not asks_for_text_reading(text)


def _answer(bedrock: Any, text: str, **extra: Any) -> str:
    response = bedrock.converse(modelId="amazon.nova-lite-v1:0", messages=[{"role": "user", "content": [{"text": text}]}],
                                inferenceConfig={"maxTokens": 40}, **extra)
    return str(response["output"]["message"]["content"][0]["text"])


def _is_json(text: str) -> bool:
    try:
        json.loads(text)
    except json.JSONDecodeError:
        return False
    return True


def test_through_the_server(bedrock: Any) -> None:
    """The tiny random model writes JSON only when decoding is constrained to it: so a parseable answer
    shows the rule fired. An explicit outputConfig.textFormat asks for JSON whatever the words."""
    assert _is_json(_answer(bedrock, "Return the fields as JSON."))
    assert not _is_json(_answer(bedrock, "Do not answer in JSON."))
    schema = json.dumps({"type": "object"})
    fmt = {"textFormat": {"type": "json_schema", "structure": {"jsonSchema": {"schema": schema, "name": "answer"}}}}
    assert _is_json(_answer(bedrock, "Do not answer in JSON.", outputConfig=fmt))

"""OCR grounding: Tesseract's reading of the image goes into the prompt when text extraction is asked
for (prompt words or additionalModelRequestFields {"ocr": true}), and is left out otherwise."""

from __future__ import annotations

import logging
import os
from pathlib import Path

import pytest
from botocore.exceptions import ClientError

from images import image_bytes, shape_image
from outcrop.engines.ocr import OcrGrounding, find_tesseract
from outcrop.protocols.converse import asks_for_ocr
from outcrop.tasks.chat import ChatTask, ChatTurn, ImagePart, TextPart
from outcrop.testing.documents import render_lines, render_table

MODEL = "amazon.nova-lite-v1:0"
LINES = ["請求書 番号 A-1024", "合計金額: 12,800円", "Invoice date: 2024-05-01"]
needs_tesseract = pytest.mark.skipif(find_tesseract() is None, reason="tesseract is not installed (make system-deps)")


@needs_tesseract
def test_tesseract_reads_japanese_and_english_lines() -> None:
    text = OcrGrounding().texts([render_lines(LINES)])[0]
    assert "請求書" in text and "A-1024" in text and "2024-05-01" in text


@needs_tesseract
def test_tesseract_reads_a_ruled_table() -> None:
    text = OcrGrounding().texts([render_table([["品目", "数量"], ["りんご", "3"], ["Coffee beans", "1"]])])[0]
    assert "品目" in text and "りんご" in text and "Coffee beans" in text


def test_missing_tesseract_turns_grounding_off_with_a_log_line(caplog: pytest.LogCaptureFixture) -> None:
    task = ChatTask(turns=(ChatTurn("user", (ImagePart(shape_image()), TextPart("extract the text"))),), ocr=True)
    with caplog.at_level(logging.WARNING, logger="outcrop.engines.ocr"):
        grounding = OcrGrounding(binary="")
    assert not grounding.available
    assert "tesseract command was not found" in caplog.text
    assert grounding.ground(task) is task


def test_which_requests_ask_for_ocr() -> None:
    image = ImagePart(shape_image())

    def turns(*parts: object) -> tuple[ChatTurn, ...]:
        return (ChatTurn("user", tuple(parts)),)  # type: ignore[arg-type]

    assert asks_for_ocr(turns(image, TextPart("この請求書から金額を抽出して")))
    assert asks_for_ocr(turns(image, TextPart("Transcribe this receipt")))
    assert asks_for_ocr(turns(image, TextPart("return the fields as JSON")))
    assert not asks_for_ocr(turns(image, TextPart("what colour is the car?")))
    assert asks_for_ocr(turns(image, TextPart("what colour is the car?")), flag=True)
    assert not asks_for_ocr(turns(image, TextPart("extract the text")), flag=False)
    assert not asks_for_ocr(turns(TextPart("extract the key points of this paragraph")))  # no image, nothing to read


def _converse(bedrock, image, text: str, **extra):  # type: ignore[no-untyped-def]
    return bedrock.converse(modelId=MODEL, inferenceConfig={"maxTokens": 4}, **extra,
                            messages=[{"role": "user", "content": [{"image": {"format": "png", "source": {"bytes": image_bytes(image)}}},
                                                                   {"text": text}]}])


@needs_tesseract
def test_extraction_request_puts_the_ocr_text_in_the_prompt(bedrock) -> None:  # type: ignore[no-untyped-def]
    from transformers import AutoProcessor

    from outcrop.engines.vlm import hf_messages
    from outcrop.testing.builtin import materialize

    image = render_lines(LINES)
    question = "Extract the invoice number and the total."
    processor = AutoProcessor.from_pretrained(materialize("tiny-qwen2.5-vl", Path(os.environ["OUTCROP_CACHE_DIR"])))
    grounded = OcrGrounding().ground(ChatTask(turns=(ChatTurn("user", (ImagePart(image), TextPart(question))),)))
    assert "A-1024" in grounded.turns[0].parts[1].text  # type: ignore[union-attr]

    def count(task: ChatTask) -> int:
        prompt = processor.apply_chat_template(hf_messages(task), tokenize=False, add_generation_prompt=True)
        return int(processor(text=[prompt], images=[image.convert("RGB")], return_tensors="pt")["input_ids"].shape[1])

    plain = ChatTask(turns=(ChatTurn("user", (ImagePart(image), TextPart(question))),))
    assert _converse(bedrock, image, question)["usage"]["inputTokens"] == count(grounded)
    off = _converse(bedrock, image, question, additionalModelRequestFields={"ocr": False})
    assert off["usage"]["inputTokens"] == count(plain)
    on = _converse(bedrock, image, "What is this?", additionalModelRequestFields={"ocr": True})
    assert on["usage"]["inputTokens"] > _converse(bedrock, image, "What is this?")["usage"]["inputTokens"]


def test_ocr_flag_must_be_a_boolean(bedrock_no_retry) -> None:  # type: ignore[no-untyped-def]
    with pytest.raises(ClientError) as caught:
        _converse(bedrock_no_retry, shape_image(), "extract", additionalModelRequestFields={"ocr": "yes"})
    assert caught.value.response["Error"]["Code"] == "ValidationException"
    assert "ocr must be true or false" in caught.value.response["Error"]["Message"]

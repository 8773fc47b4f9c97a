"""Character accuracy (1 − CER, edit distance over characters, whitespace removed) of text extraction
from rendered documents: Tesseract alone, and the vision model's answer with and without OCR grounding.

    python bench/document_extraction.py                  # test profile: tiny random-weight VLM
    python bench/document_extraction.py --profile cpu    # Qwen2.5-VL-3B (needs its weights in the cache)

With the test profile the model has random weights, so its accuracy is ~0 with or without grounding:
that run only shows the path works end to end (Tesseract → prompt → Converse). Judge the model's
numbers only with real weights.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import statistics
import sys
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "src"))

PROMPT = "Transcribe all the text in this image exactly as written, line by line. Output only the text."

DOCUMENTS: dict[str, tuple[str, Any]] = {
    "ja-invoice": ("lines", ["請求書", "請求番号: A-1024", "発行日: 2024年5月1日", "株式会社アウトクロップ 御中", "合計金額: 12,800円（税込）"]),
    "en-letter": ("lines", ["Dear Ms. Tanaka,", "Thank you for your order #58213.", "It shipped on May 3, 2024 via DHL.",
                            "Total due: $1,249.50", "Best regards, Outcrop Support"]),
    "ja-en-mixed": ("lines", ["会議メモ Meeting notes", "日時: 6月12日 14:00-15:30", "参加者: 佐藤, 鈴木, Smith",
                              "決定事項: Q3 roadmap を承認"]),
    "table": ("table", [["品目", "数量", "単価"], ["りんご", "3", "120円"], ["Coffee beans", "1", "1,480円"], ["ノート", "5", "200円"]]),
}


def truth_and_image(kind: str, content: Any) -> tuple[str, Any]:
    from outcrop.testing.documents import render_lines, render_table, table_text

    if kind == "table":
        return table_text(content), render_table(content)
    return "\n".join(content), render_lines(content)


def accuracy(truth: str, read: str) -> float:
    from rapidfuzz.distance import Levenshtein

    a, b = "".join(truth.split()), "".join(read.split())
    return max(0.0, 1.0 - Levenshtein.distance(a, b) / max(1, len(a)))


async def vlm_answers(profile: str, model: str, images: dict[str, Any], max_tokens: int) -> dict[tuple[str, bool], tuple[str, float, int]]:
    import io

    from outcrop.cli.invoke import wire_json
    from outcrop.config import Settings
    from outcrop.protocols.base import CONVERSE
    from outcrop.runtime import Runtime

    runtime = Runtime.build(Settings.from_env(profile=profile), engine_wait_s=3600)
    out: dict[tuple[str, bool], tuple[str, float, int]] = {}
    try:
        for name, image in images.items():
            buffer = io.BytesIO()
            image.save(buffer, "PNG")
            for grounded in (False, True):
                request = {"messages": [{"role": "user", "content": [{"image": {"format": "png", "source": {"bytes": buffer.getvalue()}}},
                                                                     {"text": PROMPT}]}],
                           "inferenceConfig": {"maxTokens": max_tokens}, "additionalModelRequestFields": {"ocr": grounded}}
                started = time.perf_counter()
                answer = await runtime.invoke(CONVERSE, model, json.dumps(wire_json(request)).encode(), request_id="bench")
                reply = json.loads(answer.body)
                text = "".join(b.get("text", "") for b in reply["output"]["message"]["content"])
                out[(name, grounded)] = (text, time.perf_counter() - started, reply["usage"]["inputTokens"])
    finally:
        await runtime.pool.stop()
    return out


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--profile", default="test")
    parser.add_argument("--model", default="amazon.nova-lite-v1:0")
    parser.add_argument("--max-tokens", type=int, default=160)
    args = parser.parse_args()
    from outcrop.engines.cpu_threads import configure_openmp

    configure_openmp()
    from outcrop.engines.ocr import OcrGrounding

    ocr = OcrGrounding()
    if not ocr.available:
        raise SystemExit("tesseract with jpn+eng is needed: make system-deps")
    truths, images = {}, {}
    for name, (kind, content) in DOCUMENTS.items():
        truths[name], images[name] = truth_and_image(kind, content)
    rows = []
    for name in DOCUMENTS:
        started = time.perf_counter()
        read = ocr.texts([images[name]])[0]
        rows.append((name, "tesseract", accuracy(truths[name], read), time.perf_counter() - started, None))
    answers = asyncio.run(vlm_answers(args.profile, args.model, images, args.max_tokens))
    for (name, grounded), (text, seconds, prompt_tokens) in answers.items():
        rows.append((name, f"vlm {'+ ocr' if grounded else 'alone'}", accuracy(truths[name], text), seconds, prompt_tokens))
    print("(seconds include the first call's model load; prompt tokens = Converse usage.inputTokens: the OCR text is in the grounded prompt)")
    print(f"profile {args.profile}, model {args.model}; character accuracy = 1 - CER (whitespace removed)")
    print(f"{'document':<14}{'reader':<12}{'accuracy':>10}{'seconds':>10}{'prompt tokens':>15}")
    for name, reader, acc, seconds, prompt_tokens in sorted(rows, key=lambda r: (r[0], r[1])):
        print(f"{name:<14}{reader:<12}{acc:>10.3f}{seconds:>10.2f}{prompt_tokens if prompt_tokens is not None else '':>15}")
    for reader in ("tesseract", "vlm alone", "vlm + ocr"):
        values = [r[2] for r in rows if r[1] == reader]
        print(f"mean {reader:<12}{statistics.mean(values):>10.3f}")
    if args.profile == "test":
        print("note: the test profile's VLM has random weights; its numbers only show the path runs end to end.")


if __name__ == "__main__":
    main()

"""`outcrop describe / ocr / compare` with --profile test: in-process (the server's protocol and engine
code) and with --endpoint against the session server (boto3 converse)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from images import image_bytes, shape_image
from outcrop.cli import main


@pytest.fixture()
def two_images(tmp_path: Path) -> tuple[Path, Path]:
    a, b = tmp_path / "a.png", tmp_path / "b.jpg"
    a.write_bytes(image_bytes(shape_image((220, 30, 30))))
    b.write_bytes(image_bytes(shape_image((30, 30, 220), shape="rectangle"), "JPEG"))
    return a, b


def run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    code = main([*argv])
    out, err = capsys.readouterr()
    return code, out, err


def test_describe_in_process(two_images, capsys) -> None:  # type: ignore[no-untyped-def]
    code, out, _ = run(capsys, "describe", str(two_images[0]), "--question", "what shape is it?", "--max-tokens", "6", "--profile", "test")
    assert code == 0 and out.strip()
    again = run(capsys, "describe", str(two_images[0]), "--question", "what shape is it?", "--max-tokens", "6", "--profile", "test")
    assert again[1] == out  # greedy decoding: same image and question, same answer


def test_compare_through_an_endpoint_matches_in_process(server, two_images, capsys) -> None:  # type: ignore[no-untyped-def]
    a, b = map(str, two_images)
    local = run(capsys, "compare", a, b, "--max-tokens", "6", "--profile", "test")
    remote = run(capsys, "compare", a, b, "--max-tokens", "6", "--endpoint", server.url)
    assert local[0] == remote[0] == 0
    assert local[1] == remote[1] and local[1].strip()


def test_ocr_json_of_an_image_is_json(tmp_path, capsys) -> None:  # type: ignore[no-untyped-def]
    from outcrop.testing.documents import cjk_font_path, render_lines

    image = tmp_path / "invoice.png"
    if cjk_font_path() is None:
        image.write_bytes(image_bytes())
    else:
        render_lines(["請求書 A-1024", "Total 12,800"]).save(image)
    code, out, _ = run(capsys, "ocr", str(image), "--json", "--max-tokens", "48", "--profile", "test")
    assert code == 0
    json.loads(out)  # the JSON constraint closes the value within the token budget


def test_ocr_of_a_pdf_prints_text(tmp_path, capsys) -> None:  # type: ignore[no-untyped-def]
    from PIL import Image

    pdf = tmp_path / "scan (1).pdf"
    Image.new("RGB", (200, 120), "white").save(pdf, "PDF")
    code, out, _ = run(capsys, "ocr", str(pdf), "--max-tokens", "4", "--profile", "test")
    assert code == 0 and out.strip()


def test_cli_errors_are_one_line(tmp_path, two_images, capsys) -> None:  # type: ignore[no-untyped-def]
    not_image = tmp_path / "notes.txt"
    not_image.write_text("hello")
    code, _, err = run(capsys, "describe", str(not_image), "--profile", "test")
    assert code == 1 and "not a PNG, JPEG, GIF or WebP image" in err
    code, _, err = run(capsys, "ocr", str(tmp_path / "missing.png"), "--profile", "test")
    assert code == 1 and "no such file" in err
    code, _, err = run(capsys, "describe", str(two_images[0]), "--model", "amazon.titan-embed-image-v1", "--profile", "test")
    assert code == 1 and "ValidationException: This action doesn't support the model" in err

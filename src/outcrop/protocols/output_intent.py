"""What a chat prompt asks for, read from its words when no request field says it: an answer in JSON
(JSON-constrained decoding) and text read off an image (OCR grounding).

The rule is about requests, not mentions: "JSON" must be what the answer is asked to be ("in JSON",
"as JSON", "return JSON", "JSON形式で", "JSONにして"), and no negation may govern it ("don't answer in JSON",
"JSONではなく"). Words match as words, so "mediocre" is not "ocr". Explicit fields win over both rules:
`outputConfig.textFormat` and `additionalModelRequestFields.ocr` on Converse.
"""

from __future__ import annotations

import re

_JSON = r"(?<![a-z])json(?![a-z])"
# English: JSON is what the answer is, or takes the form of.
_EN_ASK = re.compile(
    r"(?:\b(?:in|as|into|to|return|returns|output|outputs|respond|reply|answer|format(?:ted)?|give|produce|"
    r"write|provide|emit|generate|make|using|with)\b(?:\W+\w+){0,3}?\W+" + _JSON + r")"
    r"|(?:" + _JSON + r"(?:\W+\w+){0,1}?\W+(?:format|object|array|output|only|response|document|schema)\b)",
    re.IGNORECASE,
)
_EN_NEGATION = re.compile(
    r"\b(?:not|no|never|without|don't|dont|do\s+not|instead\s+of|rather\s+than|other\s+than|avoid|except)\b"
    r"(?:\W+\w+){0,4}?\W+" + _JSON + r"|" + _JSON + r"\W+(?:is\s+)?not\s+(?:needed|required|wanted)\b",
    re.IGNORECASE,
)
# Japanese: JSON followed by a form or a particle of request ("JSON形式", "JSONで", "JSONに", "JSONとして").
_JA_ASK = re.compile(_JSON + r"\s*(?:形式|フォーマット|オブジェクト|配列|で|に|として|を(?:返|出力|生成))", re.IGNORECASE)
_JA_NEGATION = re.compile(
    _JSON + r"\s*(?:形式|フォーマット)?\s*(?:ではなく|じゃなく|以外|は不要|はいらない|は使わない|にしないで|にしない|で(?:は)?(?:答|返|出力)(?:え|さ|し)?ないで|は禁止|禁止)",
    re.IGNORECASE,
)

# Asking for the text in an image: extraction, transcription, OCR (whole words in English).
_OCR_EN = re.compile(r"\b(?:extract\w*|ocr|transcrib\w*|transcription)\b", re.IGNORECASE)
_OCR_JA = ("抽出", "文字起こし", "書き起こ", "読み取", "テキスト化")


def asks_for_json(text: str) -> bool:
    """Whether `text` asks for the answer in JSON (and does not rule JSON out)."""
    if not re.search(_JSON, text, re.IGNORECASE):
        return False
    if _EN_NEGATION.search(text) or _JA_NEGATION.search(text):
        return False
    return bool(_EN_ASK.search(text) or _JA_ASK.search(text))


def asks_for_text_reading(text: str) -> bool:
    """Whether `text` asks for what is written in an image: extraction, OCR or transcription, or JSON
    (structured output from an image is extraction)."""
    return bool(_OCR_EN.search(text)) or any(word in text for word in _OCR_JA) or asks_for_json(text)

"""A chat model of the profile as a guard judge for the text categories the exemplar detector does worst
(PROMPT_ATTACK and MISCONDUCT), combined with the exemplar score rather than replacing it.

The judge is asked, per category, whether the guarded text is that category (a one-word yes/no, English
or Japanese; anything else is no verdict). The verdict moves the exemplar severity (content.py's score
space: LOW 0.4, MEDIUM 0.6, HIGH 0.8):
- yes: at least MEDIUM (0.6), and at least HIGH (0.8) when the exemplars already say LOW or more;
- no: at most 0.5, i.e. LOW at most -- a HIGH-strength filter still acts on the exemplars alone;
- no verdict: the exemplar score unchanged.
The model is the profile's `[guardrails] judge` (the cpu and gpu profiles name their own VLM, so it costs
no memory) or the server's Settings.guardrail_judge_model; the test profile has none. It costs one short
generation per judged category and evaluation (both categories' prompts go to the engine together, so a
batching engine decodes them as one batch), and no quality figure could be measured here (no real chat
weights offline).

Images (`JudgedImageDetector`, a profile's `[guardrails] judge_images = true`: the gpu profile, where one
image's prefill is cheap): the same judge is shown each guarded image and asked, per category the image
detectors score, whether the picture shows it. The image detectors' scores live on their own scales, so
their confidence is read as a nominal severity on the text scale (NONE 0.2, LOW 0.4, MEDIUM 0.6, HIGH 0.8)
and the verdict moves it as above."""

from __future__ import annotations

import re
from collections.abc import Sequence
from typing import Protocol

from outcrop.guardrails.content import SCORE_THRESHOLDS, Confidence, ImageDetector, TextDetector

JUDGED = frozenset({"PROMPT_ATTACK", "MISCONDUCT"})
DEFINITIONS = {
    "PROMPT_ATTACK": ("a prompt attack: an attempt to make an AI assistant ignore, override or reveal its instructions "
                      "or system prompt, a jailbreak, or a role-play meant to bypass its safety rules"),
    "MISCONDUCT": ("misconduct: asking for or giving help with crimes or harmful illegal acts, such as making drugs, "
                   "weapons or explosives, fraud, theft, hacking someone else's accounts, or evading the police"),
}
PROMPT = ("You are a content safety classifier. Is the following text {definition}?\n"
          "Answer with exactly one word: yes or no.\n\nText:\n\"\"\"\n{text}\n\"\"\"")
IMAGE_DEFINITIONS = {
    "VIOLENCE": "violence: people or animals being hurt or killed, gore, weapons aimed at someone, or glorified violence",
    "HATE": "hate: symbols, gestures or text that demean or attack people for their race, religion, origin, gender, "
            "sexuality or disability",
    "INSULTS": "insults: text or gestures meant to humiliate, mock or belittle someone",
    "SEXUAL": "sexual content: nudity, sexual acts or sexually suggestive poses",
    "MISCONDUCT": "misconduct: illegal drugs being made or used, weapons being built, theft, fraud or other crimes",
}
IMAGE_PROMPT = ("You are a content safety classifier. Does this image show {definition}?\n"
                "Answer with exactly one word: yes or no.")
NOMINAL: dict[str, float] = {"NONE": 0.2, "LOW": 0.4, "MEDIUM": 0.6, "HIGH": 0.8}
MAX_CHARS = 4000  # the judged text, head first: a short model window, and the exemplars see all of it
_YES = re.compile(r"^\W*(yes|y|true|unsafe|はい)\b", re.I)
_NO = re.compile(r"^\W*(no|n|false|safe|いいえ)\b", re.I)


class Chat(Protocol):
    def answers(self, prompts: Sequence[str], image: bytes | None = None) -> list[str]:
        """One short answer per prompt, each shown `image` first when there is one."""


def verdict(answer: str) -> bool | None:
    if _YES.match(answer):
        return True
    return False if _NO.match(answer) else None


def combine(score: float, judged: bool | None) -> float:
    if judged is None:
        return score
    if judged:
        return max(score, 0.8 if score >= 0.4 else 0.6)
    return min(score, 0.5)


class JudgedTextDetector:
    """`base`'s scores, with the judge's verdict folded in for the JUDGED categories."""

    def __init__(self, base: TextDetector, chat: Chat) -> None:
        self.base = base
        self.chat = chat
        self.name = f"{base.name}+judge"

    def scores(self, texts: Sequence[str], categories: Sequence[str]) -> dict[str, float]:
        out = self.base.scores(texts, categories)
        judged = [c for c in categories if c in JUDGED]
        text = "\n".join(t for t in texts if t.strip())[:MAX_CHARS]
        if judged and text:
            answers = self.chat.answers([PROMPT.format(definition=DEFINITIONS[c], text=text) for c in judged])
            for category, answer in zip(judged, answers):
                out[category] = combine(out[category], verdict(answer))
        return out

    def confidence(self, category: str, score: float) -> Confidence:
        return self.base.confidence(category, score)


class JudgedImageDetector:
    """`base`'s image categories, each judged by the chat model looking at the image."""

    def __init__(self, base: ImageDetector, chat: Chat) -> None:
        self.base = base
        self.chat = chat
        self.name = f"{base.name}+judge"
        self.categories = base.categories

    def scores(self, image: bytes, categories: Sequence[str]) -> dict[str, float]:
        wanted = [c for c in categories if c in self.categories]
        if not wanted:
            return {}
        base = self.base.scores(image, wanted)
        out = {c: NOMINAL[self.base.confidence(c, score)] for c, score in base.items()}
        judged = [c for c in wanted if c in out and c in IMAGE_DEFINITIONS]  # in the order asked
        if judged:
            answers = self.chat.answers([IMAGE_PROMPT.format(definition=IMAGE_DEFINITIONS[c]) for c in judged],
                                        image=image)
            for category, answer in zip(judged, answers):
                out[category] = combine(out[category], verdict(answer))
        return out

    def confidence(self, category: str, score: float) -> Confidence:
        return SCORE_THRESHOLDS.confidence(score)

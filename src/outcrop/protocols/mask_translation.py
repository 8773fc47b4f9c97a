"""Non-English `maskPrompt`s, translated to English before CLIPSeg sees them.

CLIPSeg's text tower is English CLIP: 「車両」 tokenizes into byte pieces it never learned to
ground, so the mask it draws is poor. An image engine spec may name a chat model of the same
profile in its protocol option `mask_prompt_translator` (e.g. "amazon.nova-lite-v1:0"); a mask prompt with
any non-ASCII character is then sent to that model's engine (the same `ChatTask` path Converse
uses, greedy, a few tokens) and the short English noun phrase it answers is segmented instead.
ASCII prompts, and deployments without the option, are segmented as written.
"""

from __future__ import annotations

import logging

from outcrop.protocols import chat_calls
from outcrop.protocols.base import InvokeContext
from outcrop.tasks.chat import ChatTask, ChatTurn, TextPart
from outcrop.tasks.image_generation import ImageGenerator

logger = logging.getLogger(__name__)

MAX_TOKENS = 16
MAX_PHRASE_CHARS = 80
SYSTEM = ("You translate the description of an object to select in an image into English. "
          "Answer with a short English noun phrase only, no quotes, no explanation.")


def needs_translation(prompt: str) -> bool:
    return not prompt.isascii()


def english_phrase(answer: str) -> str:
    """The phrase in a chat model's answer: its first non-empty line, without quotes or a final full stop."""
    line = next((part.strip() for part in answer.splitlines() if part.strip()), "")
    line = line.strip(" \"'`「」『』.。")
    return line[:MAX_PHRASE_CHARS]


def translation_task(prompt: str) -> ChatTask:
    turn = ChatTurn(role="user", parts=(TextPart(f"Translate into English: {prompt}"),))
    return ChatTask(turns=(turn,), system=SYSTEM, max_tokens=MAX_TOKENS, temperature=0.0)


async def english_mask_prompt(ctx: InvokeContext[ImageGenerator], prompt: str, translator: str | None) -> str:
    """`prompt` in English when the deployment has a translator and the prompt needs one."""
    if not translator or not needs_translation(prompt) or ctx.chat_engine is None:
        return prompt
    engine = await ctx.chat_engine(str(translator))
    result = await chat_calls.generate(engine, translation_task(prompt))
    phrase = english_phrase(result.text)
    if not phrase:
        logger.warning("mask prompt translator %s gave no phrase for %r; segmenting the prompt as written", translator, prompt)
        return prompt
    logger.info("mask prompt %r translated by %s to %r", prompt, translator, phrase)
    return phrase

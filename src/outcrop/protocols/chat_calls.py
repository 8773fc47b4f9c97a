"""A chat engine's calls as the chat body families make them: the task checked against the engine's
reported limits first, and the engine's neutral refusal (a prompt past its context window) worded in
Bedrock's terms. Converse, Anthropic messages, Nova and the mask-prompt translator all call through here."""

from __future__ import annotations

from outcrop.errors import ValidationException
from outcrop.tasks.chat import CONTEXT_TOKENS, ChatLimits, ChatModel, ChatResult, ChatStream, ChatTask
from outcrop.tasks.limits import LimitExceeded


def check_limits(task: ChatTask, limits: ChatLimits) -> None:
    """What can be refused before queueing: an output longer than the model may give."""
    if task.max_tokens is not None and task.max_tokens > limits.max_output_tokens:
        raise ValidationException(
            f"The maximum tokens you requested exceeds the model limit of {limits.max_output_tokens}. "
            f"Try again with a maximum tokens value that is lower than {limits.max_output_tokens}."
        )


def worded(exc: LimitExceeded) -> ValidationException:
    """Bedrock's answer to a chat engine's `LimitExceeded`."""
    if exc.kind == CONTEXT_TOKENS:
        return ValidationException(
            f"Input is too long for this model: {exc.parts['input_tokens']} prompt tokens (images included) plus "
            f"maxTokens {exc.parts['output_tokens']} exceed its context window of {exc.limit} tokens. "
            "Shorten the conversation, send fewer or smaller images, or lower maxTokens."
        )
    return ValidationException(f"The request is over this model's limit of {exc.limit} ({exc.kind}): {exc.actual}.")


async def generate(engine: ChatModel, task: ChatTask) -> ChatResult:
    check_limits(task, engine.limits)
    try:
        return await engine.generate(task)
    except LimitExceeded as exc:
        raise worded(exc) from None


async def open_stream(engine: ChatModel, task: ChatTask) -> ChatStream:
    """The stream, once its prompt is tokenized: every refusal comes before the first event."""
    check_limits(task, engine.limits)
    try:
        return await engine.open_stream(task)
    except LimitExceeded as exc:
        raise worded(exc) from None

"""`guardrailConfig` on Converse and ConverseStream: the input is assessed before the model runs
(a block answers with the blocked message and the engine is never asked), the output after.

What is assessed, as on Bedrock: the `guardContent` blocks when the request has any (in messages
or system; text and images, which the model sees too), else the text of every message. Intervention gives `stopReason: guardrail_intervened`
and the blocked message as the answer; masked (ANONYMIZE) input reaches the model masked, masked
output replaces the model's text. With `trace` enabled the assessments go to `trace.guardrail`:
`inputAssessment` {guardrailId: assessment}, `outputAssessments` {guardrailId: [assessment]},
`modelOutput` (the model's own text, when the output was replaced) and `actionReason`."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from outcrop.errors import ValidationException
from outcrop.guardrails.evaluator import Outcome, TextBlock
from outcrop.guardrails.service import Guardrails
from outcrop.guardrails.store import StoredGuardrail

INTERVENED = "guardrail_intervened"


@dataclass(frozen=True)
class GuardedText:
    """One text the input assessment covers: where it sits in the chat task (turn, part), or
    turn None for system guardContent, which is assessed but never rewritten."""

    turn: int | None
    part: int
    text: str
    qualifiers: tuple[str, ...] = ()


@dataclass
class ConverseGuard:
    service: Guardrails
    guardrail: StoredGuardrail
    trace: str
    full: bool
    stream_mode: str = "sync"
    input_outcome: Outcome | None = None
    output_outcomes: list[Outcome] = field(default_factory=list)
    model_output: list[str] = field(default_factory=list)

    @classmethod
    async def open(cls, service: Guardrails | None, config: Any) -> ConverseGuard:
        identifier, version = config.guardrailIdentifier, config.guardrailVersion
        if not identifier:
            raise ValidationException("guardrailConfig.guardrailIdentifier is required when guardrailConfig is set.")
        if not version:
            raise ValidationException("guardrailConfig.guardrailVersion is required when a guardrailIdentifier is set.")
        if service is None:
            raise ValidationException("Guardrails are not available for this request.")
        guardrail = await service.resolve(identifier, version)
        trace = config.trace or "disabled"
        return cls(service, guardrail, trace, trace == "enabled_full", config.streamProcessingMode or "sync")

    async def check_input(self, texts: list[GuardedText], images: Sequence[bytes] = ()) -> Outcome:
        """`images`: decoded png/jpeg bytes within the guardrail's image limits."""
        blocks = [TextBlock(t.text, t.qualifiers) for t in texts]
        self.input_outcome = await self.service.evaluate(self.guardrail, "INPUT", blocks, images, full=self.full)
        return self.input_outcome

    async def check_output_images(self, images: Sequence[bytes]) -> Outcome:
        """The output assessment of generated images (PNG bytes), for image generation."""
        outcome = await self.service.evaluate(self.guardrail, "OUTPUT", [], images, full=self.full)
        self.output_outcomes.append(outcome)
        return outcome

    async def check_output(self, blocks: list[dict[str, Any]], stop_reason: str) -> tuple[list[dict[str, Any]], str]:
        """The response's content blocks and stop reason after the output assessment."""
        texts = [b["text"] for b in blocks if "text" in b]
        if not texts:
            return blocks, stop_reason
        outcome = await self.service.evaluate(self.guardrail, "OUTPUT", [TextBlock(t) for t in texts], full=self.full)
        self.output_outcomes.append(outcome)
        if outcome.action == "NONE":
            return blocks, stop_reason
        self.model_output = texts
        if outcome.blocked:
            return [{"text": self.guardrail.spec["blockedOutputsMessaging"]}], INTERVENED
        masked = iter(outcome.masked)
        return [{"text": next(masked)} if "text" in b else b for b in blocks], INTERVENED

    def blocked_input_blocks(self) -> list[dict[str, Any]]:
        return [{"text": self.guardrail.spec["blockedInputMessaging"]}]

    def trace_fields(self) -> dict[str, Any]:
        """`{"trace": {"guardrail": ...}}` when the request asked for a trace, else nothing."""
        if self.trace == "disabled":
            return {}
        guardrail: dict[str, Any] = {}
        if self.input_outcome is not None:
            guardrail["inputAssessment"] = {self.guardrail.id: self.input_outcome.assessment}
        if self.output_outcomes:
            guardrail["outputAssessments"] = {self.guardrail.id: [o.assessment for o in self.output_outcomes]}
        if self.model_output:
            guardrail["modelOutput"] = self.model_output
        reasons = [o for o in [self.input_outcome, *self.output_outcomes] if o is not None and o.action != "NONE"]
        if reasons:
            guardrail["actionReason"] = reasons[0].action_reason
        return {"trace": {"guardrail": guardrail}}

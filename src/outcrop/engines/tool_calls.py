"""Tool use through the model's own chat template, and the model's answer read back by transformers'
response parser (`response_template`: the tokenizer's own, else the one `transformers serve` keeps
for the model type).

Templates that render tools get them as `apply_chat_template(tools=...)`, previous calls as the
assistant's `tool_calls` and results as `tool` messages. A template that does not (Qwen2.5-VL's)
gets Qwen2.5's Hermes layout folded into the conversation as text, which is the format that model
was trained on and the one its response template reads. Both run on the generation thread.
"""

from __future__ import annotations

import copy
import json
import uuid
from collections.abc import Callable
from dataclasses import replace
from typing import Any

from outcrop.tasks.chat import ChatTask, ChatTurn, Part, TextPart, ToolCall, ToolChoice, ToolResult, ToolSpec

Emit = Callable[[Any], None]


def hf_tools(specs: tuple[ToolSpec, ...]) -> list[dict[str, Any]]:
    """Tool specs as chat templates take them (OpenAI's function shape)."""
    return [
        {"type": "function", "function": {"name": s.name, "description": s.description or "", "parameters": s.parameters}}
        for s in specs
    ]


def choice_instruction(choice: ToolChoice) -> str | None:
    """Chat templates have no notion of a forced call, so "any" and "tool" become an instruction."""
    if choice.mode == "any":
        return "You must call at least one function."
    if choice.mode == "tool":
        return f"You must call the function {choice.name}."
    return None


def result_text(result: ToolResult) -> str:
    return "\n".join(p.text if isinstance(p, TextPart) else json.dumps(p.value, ensure_ascii=False) for p in result.content)


def renders_tools(template: str | None) -> bool:
    """Whether a chat template reads the `tools` it is given and the assistant's `tool_calls`."""
    return bool(template) and "tools" in template and "tool_calls" in template  # type: ignore[operator]


def _with_system(task: ChatTask, text: str | None) -> ChatTask:
    if not text:
        return task
    return replace(task, system=f"{task.system}\n\n{text}" if task.system else text)


# -- Hermes, for Qwen templates that do not render tools --------------------------------------------
def hermes_tools_prompt(specs: tuple[ToolSpec, ...]) -> str:
    lines = [
        "# Tools", "", "You may call one or more functions to assist with the user query.", "",
        "You are provided with function signatures within <tools></tools> XML tags:", "<tools>",
        *(json.dumps(tool, ensure_ascii=False) for tool in hf_tools(specs)),
        "</tools>", "",
        "For each function call, return a json object with function name and arguments within <tool_call></tool_call> XML tags:",
        "<tool_call>", '{"name": <function-name>, "arguments": <args-json-object>}', "</tool_call>",
    ]
    return "\n".join(lines)


def _hermes_part(part: Part) -> Part:
    if isinstance(part, ToolCall):
        call = json.dumps({"name": part.name, "arguments": part.arguments}, ensure_ascii=False)
        return TextPart(f"<tool_call>\n{call}\n</tool_call>")
    if isinstance(part, ToolResult):
        return TextPart(f"<tool_response>\n{result_text(part)}\n</tool_response>")
    return part


def fold_hermes(task: ChatTask) -> ChatTask:
    """The task with its tools in the system prompt and its calls and results as Hermes text."""
    turns = tuple(ChatTurn(t.role, tuple(_hermes_part(p) for p in t.parts)) for t in task.turns)
    prompt = "\n".join(filter(None, [hermes_tools_prompt(task.tools), choice_instruction(task.tool_choice)]))
    return _with_system(replace(task, turns=turns), prompt)


def _is_hermes(response_template: dict[str, Any] | None) -> bool:
    field = (response_template or {}).get("fields", {}).get("tool_calls", {})
    opener = str(field.get("open", "")) + str(field.get("open_pattern", ""))
    return field.get("content") == "json" and "<tool_call>" in opener and "(?P<name>" not in opener


class ToolFormat:
    """How one loaded model takes tools and writes calls."""

    def __init__(self, chat_template: str | None, response_template: dict[str, Any] | None) -> None:
        self.native = renders_tools(chat_template)
        self.response_template = response_template
        self.folds_hermes = not self.native and _is_hermes(response_template)

    @classmethod
    def of(cls, processor: Any, model: Any) -> ToolFormat:
        from transformers.cli.serving.utils import get_response_template

        template = processor.chat_template if isinstance(processor.chat_template, str) else None
        return cls(template or getattr(processor.tokenizer, "chat_template", None), get_response_template(processor, model))

    @property
    def supported(self) -> bool:
        return self.response_template is not None and (self.native or self.folds_hermes)

    def prompt_task(self, task: ChatTask) -> tuple[ChatTask, list[dict[str, Any]] | None]:
        """The task to render and the template's `tools` argument (None: the tools are in the text)."""
        if not task.tools:
            return task, None
        if self.native:
            return _with_system(task, choice_instruction(task.tool_choice)), hf_tools(task.tools)
        return fold_hermes(task), None

    def reader(self, task: ChatTask, prefix: str, emit: Emit) -> PlainReader | ToolCallReader:
        if not task.tools or self.response_template is None:
            return PlainReader(emit)
        return ToolCallReader(self.response_template, prefix, task.tools, emit)


class PlainReader:
    """No tools: the text passes as generated."""

    def __init__(self, emit: Emit) -> None:
        self.feed = emit

    def finish(self, text: str) -> tuple[str, tuple[ToolCall, ...]]:
        return text, ()


def _lenient(response_template: dict[str, Any]) -> dict[str, Any]:
    """A copy whose JSON tool calls that fail to parse come back as text instead of raising."""
    spec = copy.deepcopy(response_template)
    field = spec.get("fields", {}).get("tool_calls")
    if isinstance(field, dict) and field.get("content") == "json":
        field["content_args"] = {**field.get("content_args", {}), "allow_non_json": True}
    return spec


def _tool_call(value: Any, names: set[str]) -> ToolCall | None:
    function = value.get("function") if isinstance(value, dict) else None
    if not isinstance(function, dict) or function.get("name") not in names:
        return None
    arguments = function.get("arguments", {})
    if isinstance(arguments, str):
        try:
            arguments = json.loads(arguments)
        except json.JSONDecodeError:
            pass
    call_id = value.get("id") if isinstance(value.get("id"), str) else uuid.uuid4().hex[:22]
    return ToolCall(id=call_id, name=function["name"],
                    arguments=arguments if isinstance(arguments, dict) else {"value": arguments})


class ToolCallReader:
    """Generated text through transformers' streaming response parser: answer text goes on to `emit`
    as it comes, tool-call text is held back and parsed into `ToolCall`s. A call that does not parse
    or names an unknown tool is not a call; with no good call the whole text is the answer."""

    def __init__(self, response_template: dict[str, Any], prefix: str, specs: tuple[ToolSpec, ...], emit: Emit) -> None:
        from transformers.utils.chat_parsing import ResponseParser

        tools: list[dict[Any, Any] | Callable[..., Any]] = [*hf_tools(specs)]
        self._parser = ResponseParser(_lenient(response_template), prefix=prefix, tools=tools)
        self._names = {s.name for s in specs}
        self._emit = emit
        self._content: list[str] = []
        self._calls: list[ToolCall] = []
        self._malformed = False
        self._broken = False  # the parser raised: the rest passes through as text

    def feed(self, delta: Any) -> None:
        if not isinstance(delta, str):
            self._emit(delta)
        elif self._broken:
            self._out(delta)
        else:
            try:
                self._read(self._parser.feed(delta))
            except ValueError:
                self._broken = True

    def finish(self, text: str) -> tuple[str, tuple[ToolCall, ...]]:
        """(answer text, calls) once generation ended; `text` is everything generated."""
        if not self._broken:
            try:
                self._read(self._parser.finalize()[1])
            except ValueError:
                self._broken = True
        if not self._calls and (self._malformed or self._broken):
            return text.strip(), ()
        return "".join(self._content).strip(), tuple(self._calls)

    def _read(self, events: list[dict[str, Any]]) -> None:
        for event in events:
            if event["type"] == "region_chunk" and event["field"] == "content":
                self._out(event["text"])
            elif event["type"] == "region_close" and event["field"] == "tool_calls":
                call = _tool_call(event["value"], self._names)
                if call is None:
                    self._malformed = True
                else:
                    self._calls.append(call)

    def _out(self, text: str) -> None:
        if not self._content:  # whitespace the parser held at the prompt's end (after `</think>`) is not the answer's
            text = text.lstrip()
            if not text:
                return
        self._content.append(text)
        self._emit(text)

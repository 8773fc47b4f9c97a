"""Tool use for open chat models in the Hermes format that Qwen2.5 models are trained on: tool specs
go into the system prompt, calls come back as `<tool_call>{"name":..,"arguments":..}</tool_call>`."""

from __future__ import annotations

import json
import re
import uuid
from typing import Any

CALL_OPEN = "<tool_call>"
_CALL = re.compile(r"<tool_call>\s*(\{.*?\})\s*</tool_call>", re.S)


def tools_prompt(specs: list[dict[str, Any]], choice: dict[str, Any] | None) -> str:
    lines = [
        "# Tools", "", "You may call one or more functions to assist with the user query.", "",
        "You are provided with function signatures within <tools></tools> XML tags:", "<tools>",
    ]
    for spec in specs:
        function = {"name": spec["name"], "description": spec.get("description") or "", "parameters": spec["parameters"]}
        lines.append(json.dumps({"type": "function", "function": function}, ensure_ascii=False))
    lines += [
        "</tools>", "",
        "For each function call, return a json object with function name and arguments within <tool_call></tool_call> XML tags:",
        "<tool_call>", '{"name": <function-name>, "arguments": <args-json-object>}', "</tool_call>",
    ]
    if choice and "any" in choice:
        lines.append("You must call at least one function.")
    elif choice and "tool" in choice:
        lines.append(f"You must call the function {choice['tool'].get('name')}.")
    return "\n".join(lines)


def call_text(name: str, arguments: Any) -> str:
    return f"{CALL_OPEN}\n{json.dumps({'name': name, 'arguments': arguments}, ensure_ascii=False)}\n</tool_call>"


def response_text(content: str) -> str:
    return f"<tool_response>\n{content}\n</tool_response>"


def parse_calls(text: str, names: set[str]) -> tuple[str, list[dict[str, Any]]]:
    """(text before the first call, [{toolUseId, name, input}]) — unknown names and bad JSON stay text."""
    calls: list[dict[str, Any]] = []
    first = None
    for match in _CALL.finditer(text):
        try:
            call = json.loads(match.group(1))
        except json.JSONDecodeError:
            continue
        if not isinstance(call, dict) or call.get("name") not in names:
            continue
        arguments = call.get("arguments", {})
        calls.append({"toolUseId": f"tooluse_{uuid.uuid4().hex[:22]}", "name": call["name"],
                      "input": arguments if isinstance(arguments, dict) else {"value": arguments}})
        first = match.start() if first is None else first
    return (text if first is None else text[:first]).rstrip(), calls

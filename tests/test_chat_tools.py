"""Tool use through each served model's own chat template and response parser, on two architectures:
the tiny Qwen2.5-VL (a template without tools: Qwen's Hermes JSON layout folded into the text) and
the tiny Qwen3.5 (its own template renders tools; calls are XML). Random weights never call a tool,
so the template is checked on rendered prompts and the parser on each family's literal output; the
server tests check that Converse with toolConfig answers well-formed on both."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import pytest

from outcrop.engines.tool_calls import ToolFormat
from outcrop.engines.vlm import render_prompt
from outcrop.tasks.chat import (
    ChatTask,
    ChatTurn,
    ImagePart,
    JsonPart,
    TextPart,
    ToolCall,
    ToolChoice,
    ToolResult,
    ToolSpec,
)

from images import image_bytes, shape_image

QWEN25 = "anthropic.claude-3-haiku-20240307-v1:0"  # served by the tiny Qwen2.5-VL
QWEN35 = "qwen.qwen3-vl-235b-a22b"  # served by the tiny Qwen3.5
WEATHER = ToolSpec("get_weather", "weather for a city", {
    "type": "object", "properties": {"city": {"type": "string"}, "days": {"type": "integer"}}, "required": ["city"]})
HERMES_CALL = '<tool_call>\n{"name": "get_weather", "arguments": {"city": "Tokyo", "days": 3}}\n</tool_call>'
XML_CALL = ("<tool_call>\n<function=get_weather>\n<parameter=city>\nTokyo\n</parameter>\n"
            "<parameter=days>\n3\n</parameter>\n</function>\n</tool_call>")


@pytest.fixture(scope="module", params=["tiny-qwen2.5-vl", "tiny-qwen3.5"])
def family(request: pytest.FixtureRequest) -> tuple[str, Any, ToolFormat]:
    from transformers import AutoModelForImageTextToText, AutoProcessor

    from outcrop.testing.builtin import materialize

    folder = materialize(request.param, Path(os.environ["OUTCROP_CACHE_DIR"]))
    processor = AutoProcessor.from_pretrained(folder)
    model = AutoModelForImageTextToText.from_pretrained(folder)
    return request.param, processor, ToolFormat.of(processor, model)


def _history(**changes: Any) -> ChatTask:
    turns = (
        ChatTurn("user", (TextPart("weather in Tokyo?"),)),
        ChatTurn("assistant", (TextPart("Let me look."), ToolCall("t1", "get_weather", {"city": "Tokyo", "days": 3}))),
        ChatTurn("user", (ToolResult("t1", (JsonPart({"temp": 21}),)), TextPart("and in Osaka?"))),
    )
    return ChatTask(turns=turns, tools=(WEATHER,), system="be brief", **changes)


def test_each_family_renders_tools_and_history_in_its_own_format(family: tuple[str, Any, ToolFormat]) -> None:
    name, processor, tool_format = family
    prompt = render_prompt(processor, tool_format, _history())
    assert '"name": "get_weather"' in prompt and '"description": "weather for a city"' in prompt  # the spec
    assert "<tool_response>\n{\"temp\": 21}\n</tool_response>" in prompt  # the result
    assert prompt.index("be brief") < prompt.index("weather in Tokyo?")
    if name == "tiny-qwen3.5":
        assert tool_format.native and "You have access to the following functions" in prompt
        assert XML_CALL in prompt  # the previous call, as Qwen3.5 writes calls
    else:
        assert not tool_format.native and tool_format.folds_hermes
        assert HERMES_CALL in prompt  # the previous call, as Qwen2.5 writes calls
    plain = render_prompt(processor, tool_format, ChatTask(turns=_history().turns[:1]))
    assert "get_weather" not in plain and "<tools>" not in plain


def test_tool_choice_becomes_an_instruction(family: tuple[str, Any, ToolFormat]) -> None:
    _, processor, tool_format = family
    assert "You must call" not in render_prompt(processor, tool_format, _history())
    assert "You must call at least one function." in render_prompt(processor, tool_format, _history(tool_choice=ToolChoice("any")))
    forced = render_prompt(processor, tool_format, _history(tool_choice=ToolChoice("tool", "get_weather")))
    assert "You must call the function get_weather." in forced


def test_tool_results_keep_their_images_in_order(family: tuple[str, Any, ToolFormat]) -> None:
    _, processor, tool_format = family
    image = shape_image()
    task = _history()
    last = ChatTurn("user", (ToolResult("t1", (TextPart("see picture"),)), ImagePart(image)))
    prompt = render_prompt(processor, tool_format, ChatTask(turns=(*task.turns[:2], last), tools=task.tools))
    assert prompt.count("<|image_pad|>") == 1 and prompt.index("see picture") < prompt.index("<|image_pad|>")


def _read(tool_format: ToolFormat, prompt: str, output: str, step: int = 3) -> tuple[str, str, tuple[ToolCall, ...]]:
    """(streamed text, result text, calls) for `output` fed in chunks of `step` characters."""
    streamed: list[str] = []
    reader = tool_format.reader(_history(), prompt, streamed.append)
    for at in range(0, len(output), step):
        reader.feed(output[at:at + step])
    text, calls = reader.finish(output)
    return "".join(streamed), text, calls


def test_each_familys_parser_reads_its_literal_calls(family: tuple[str, Any, ToolFormat]) -> None:
    name, processor, tool_format = family
    prompt = render_prompt(processor, tool_format, _history())
    call = XML_CALL if name == "tiny-qwen3.5" else HERMES_CALL
    streamed, text, calls = _read(tool_format, prompt, f"Checking the weather.\n\n{call}\n{call.replace('Tokyo', 'Osaka')}")
    assert text == "Checking the weather." and streamed.strip() == text
    assert "<tool_call>" not in streamed and "<" not in streamed  # call text is held back while streaming
    assert [(c.name, c.arguments) for c in calls] == [("get_weather", {"city": "Tokyo", "days": 3}),
                                                      ("get_weather", {"city": "Osaka", "days": 3})]
    assert len({c.id for c in calls}) == 2 and all(c.id for c in calls)
    streamed, text, calls = _read(tool_format, prompt, "It is sunny in Tokyo.")
    assert text == streamed == "It is sunny in Tokyo." and calls == ()


def test_calls_to_unknown_tools_or_broken_calls_stay_text(family: tuple[str, Any, ToolFormat]) -> None:
    name, processor, tool_format = family
    prompt = render_prompt(processor, tool_format, _history())
    call = XML_CALL if name == "tiny-qwen3.5" else HERMES_CALL
    unknown = "Sure. " + call.replace("get_weather", "launch_rocket")
    assert _read(tool_format, prompt, unknown)[1:] == (unknown, ())
    if name == "tiny-qwen2.5-vl":
        broken = 'Sure. <tool_call>\n{"name": "get_weather", "arguments": {"city": </tool_call>'
        assert _read(tool_format, prompt, broken)[1:] == (broken, ())


def test_a_template_without_tools_takes_them_only_with_a_hermes_parser() -> None:
    response_template = {"fields": {"tool_calls": {"content": "json", "open_pattern": r"\s*<tool_call>"}}}
    assert ToolFormat(None, response_template).folds_hermes
    assert not ToolFormat(None, None).supported  # no template tools, no parser: no tool use


# --- through the server ------------------------------------------------------------------------------
TOOL_CONFIG = {"tools": [{"toolSpec": {"name": "get_weather", "description": "weather for a city",
                                       "inputSchema": {"json": WEATHER.parameters}}}]}
HISTORY = [
    {"role": "user", "content": [{"text": "weather in Tokyo?"}]},
    {"role": "assistant", "content": [{"text": "Let me look."},
                                      {"toolUse": {"toolUseId": "tooluse_1", "name": "get_weather", "input": {"city": "Tokyo"}}}]},
    {"role": "user", "content": [{"toolResult": {"toolUseId": "tooluse_1", "content": [{"json": {"temp": 21}}]}}]},
]


def _well_formed(response: dict[str, Any]) -> None:
    blocks = response["output"]["message"]["content"]
    assert response["output"]["message"]["role"] == "assistant" and blocks
    calls = [b["toolUse"] for b in blocks if "toolUse" in b]
    assert response["stopReason"] == ("tool_use" if calls else response["stopReason"])
    assert response["stopReason"] in ("end_turn", "max_tokens", "tool_use")
    for call in calls:
        assert call["name"] == "get_weather" and call["toolUseId"].startswith("tooluse_") and isinstance(call["input"], dict)


@pytest.mark.parametrize("model", [QWEN25, QWEN35])
def test_converse_with_tools_on_each_architecture(bedrock: Any, model: str) -> None:
    plain = bedrock.converse(modelId=model, messages=HISTORY[:1], inferenceConfig={"maxTokens": 6}, toolConfig=TOOL_CONFIG)
    _well_formed(plain)
    response = bedrock.converse(modelId=model, messages=HISTORY, inferenceConfig={"maxTokens": 6}, toolConfig=TOOL_CONFIG)
    _well_formed(response)
    assert response["usage"]["inputTokens"] > plain["usage"]["inputTokens"] + 10  # the call and its result are in the prompt
    bare = bedrock.converse(modelId=model, messages=HISTORY[:1], inferenceConfig={"maxTokens": 6})
    assert plain["usage"]["inputTokens"] > bare["usage"]["inputTokens"] + 20  # the tool specs are in the prompt
    counted = bedrock.count_tokens(modelId=model, input={"converse": {"messages": HISTORY, "toolConfig": TOOL_CONFIG}})
    assert counted["inputTokens"] == response["usage"]["inputTokens"]


@pytest.mark.parametrize("model", [QWEN25, QWEN35])
def test_converse_stream_with_tools_on_each_architecture(bedrock: Any, model: str) -> None:
    events = list(bedrock.converse_stream(modelId=model, messages=HISTORY, inferenceConfig={"maxTokens": 6},
                                          toolConfig={**TOOL_CONFIG, "toolChoice": {"any": {}}})["stream"])
    kinds = [next(iter(e)) for e in events]
    assert kinds[0] == "messageStart" and kinds[-2:] == ["messageStop", "metadata"]
    stop = events[-2]["messageStop"]["stopReason"]
    assert stop in ("end_turn", "max_tokens", "tool_use")
    assert ("contentBlockStart" in kinds) == (stop == "tool_use")


def test_images_in_tool_results_reach_the_second_architecture(bedrock: Any) -> None:
    picture = {"image": {"format": "png", "source": {"bytes": image_bytes(shape_image())}}}

    def answer(*content: dict[str, Any]) -> dict[str, Any]:
        result = {"toolResult": {"toolUseId": "tooluse_1", "content": [{"text": "map"}, *content]}}
        return bedrock.converse(modelId=QWEN35, messages=[*HISTORY[:2], {"role": "user", "content": [result]}],
                                inferenceConfig={"maxTokens": 4}, toolConfig=TOOL_CONFIG)

    one, two = answer(picture), answer(picture, picture)
    _well_formed(one)
    # 96×64 px shrinks to 64×32 under the 4,096-pixel budget: 2 image tokens, plus the two vision markers
    assert two["usage"]["inputTokens"] == one["usage"]["inputTokens"] + 2 + 2


def test_second_architecture_answers_plain_converse_deterministically(bedrock: Any) -> None:
    ask = {"modelId": QWEN35, "messages": HISTORY[:1], "inferenceConfig": {"maxTokens": 8}}
    first, second = bedrock.converse(**ask), bedrock.converse(**ask)
    assert first["output"] == second["output"] and first["stopReason"] in ("end_turn", "max_tokens")
    assert [next(iter(b)) for b in first["output"]["message"]["content"]] == ["text"]


@pytest.mark.parametrize("model", [QWEN25, QWEN35])
def test_a_tool_result_needs_a_call_in_the_turn_before(bedrock_no_retry: Any, model: str) -> None:
    from botocore.exceptions import ClientError

    result = {"toolResult": {"toolUseId": "tooluse_1", "content": [{"text": "r"}]}}
    for messages in ([{"role": "user", "content": [result]}], [*HISTORY[:2], {"role": "user", "content": [result, result]}]):
        with pytest.raises(ClientError) as caught:
            bedrock_no_retry.converse(modelId=model, messages=messages, inferenceConfig={"maxTokens": 4}, toolConfig=TOOL_CONFIG)
        error = caught.value.response["Error"]
        assert error["Code"] == "ValidationException"
        assert "toolResult blocks at messages." in error["Message"] and "exceeds the number of toolUse blocks" in error["Message"]


@pytest.mark.parametrize("model", [QWEN25, QWEN35])
def test_an_assistant_prefill_with_tools_continues(bedrock: Any, model: str) -> None:
    messages = [*HISTORY, {"role": "assistant", "content": [{"text": "It is"}]}]
    response = bedrock.converse(modelId=model, messages=messages, inferenceConfig={"maxTokens": 4}, toolConfig=TOOL_CONFIG)
    _well_formed(response)
    assert not response["output"]["message"]["content"][0]["text"].startswith("It is")  # the prefill is not echoed

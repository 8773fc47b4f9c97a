"""`guardrailConfig` on Converse and ConverseStream through real boto3 clients and a real server.

Most tests serve the test profile in-process with the chat engine's generation replaced by a
scripted one that records every call, so a test can say exactly what the model would answer and
prove that a blocked input never reaches it. One test runs the real tiny VLM end to end."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import boto3
import pytest
from botocore.config import Config
from botocore.exceptions import ClientError

from servers import ThreadServer
from outcrop.tasks.chat import ChatLimits, ChatResult, ChatTask, TextPart

MODEL = "anthropic.claude-3-sonnet-20240229-v1:0"
NOVA = "amazon.nova-lite-v1:0"
BLOCKED_IN = "ご質問にはお答えできません。"
BLOCKED_OUT = "The model's answer was blocked."


class ScriptedStream:
    def __init__(self, text: str) -> None:
        self.text = text
        self.result: ChatResult | None = None
        self.input_tokens = 11

    def __aiter__(self) -> AsyncIterator[str]:
        return self._deltas()

    async def _deltas(self) -> AsyncIterator[str]:
        pieces = self.text.split(" ")
        for i, piece in enumerate(pieces):
            await asyncio.sleep(0)
            yield piece + (" " if i < len(pieces) - 1 else "")
        self.result = ChatResult(self.text, "end_turn", 11, len(pieces))


class ScriptedChat:
    """Stands in for the chat engine: answers `reply`, remembers each task it was given."""

    limits = ChatLimits(context_tokens=32768, max_output_tokens=4096)  # what the ChatModel interface reports

    def __init__(self) -> None:
        self.reply = "Hello."
        self.tasks: list[ChatTask] = []

    async def generate(self, task: ChatTask) -> ChatResult:
        self.tasks.append(task)
        return ChatResult(self.reply, "end_turn", 11, 3)

    async def open_stream(self, task: ChatTask, *, streaming: bool = True) -> ScriptedStream:
        self.tasks.append(task)
        return ScriptedStream(self.reply)


@pytest.fixture(scope="module")
def scripted(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[ThreadServer, ScriptedChat]]:
    from outcrop.config import Settings
    from outcrop.server.app import build_app

    app = build_app(Settings.from_env(profile="test", data_dir=tmp_path_factory.mktemp("guard-converse")))
    chat = ScriptedChat()
    pool = app.state.runtime.pool
    real_get = pool.get

    async def get(entry: Any, wait_s: float | None = None) -> Any:
        return chat if entry.engine == "vision-chat" else await real_get(entry, wait_s=wait_s)

    pool.get = get
    with ThreadServer(app) as server:
        yield server, chat


@pytest.fixture(scope="module")
def clients(scripted: tuple[ThreadServer, ScriptedChat]) -> tuple[Any, Any]:
    server, _ = scripted
    config = Config(retries={"total_max_attempts": 1})
    return (boto3.client("bedrock", endpoint_url=server.url, config=config),
            boto3.client("bedrock-runtime", endpoint_url=server.url, config=config))


@pytest.fixture(scope="module")
def guardrail(clients: tuple[Any, Any]) -> tuple[str, str]:
    control, _ = clients
    created = control.create_guardrail(
        name="converse-guard", blockedInputMessaging=BLOCKED_IN, blockedOutputsMessaging=BLOCKED_OUT,
        wordPolicyConfig={"wordsConfig": [{"text": "project falcon"}], "managedWordListsConfig": [{"type": "PROFANITY"}]},
        sensitiveInformationPolicyConfig={"piiEntitiesConfig": [
            {"type": "EMAIL", "action": "ANONYMIZE"}, {"type": "CREDIT_DEBIT_CARD_NUMBER", "action": "BLOCK"}]},
        topicPolicyConfig={"topicsConfig": [{
            "name": "investment-advice", "type": "DENY",
            "definition": "Recommendations about which stocks, funds or cryptocurrencies to buy or sell to make money.",
            "examples": ["Which stocks should I buy this year?", "おすすめの投資信託を教えて"]}]})
    version = control.create_guardrail_version(guardrailIdentifier=created["guardrailId"])["version"]
    return created["guardrailId"], version


def converse(runtime: Any, text: str | list[dict[str, Any]], guard: tuple[str, str] | None, trace: str = "enabled",
             model: str = MODEL, **extra: Any) -> dict[str, Any]:
    content = [{"text": text}] if isinstance(text, str) else text
    params: dict[str, Any] = {"modelId": model, "messages": [{"role": "user", "content": content}], **extra}
    if guard is not None:
        params["guardrailConfig"] = {"guardrailIdentifier": guard[0], "guardrailVersion": guard[1], "trace": trace}
    return runtime.converse(**params)


def stream_events(runtime: Any, text: str, guard: tuple[str, str], mode: str, trace: str = "enabled") -> list[dict[str, Any]]:
    response = runtime.converse_stream(modelId=MODEL, messages=[{"role": "user", "content": [{"text": text}]}],
                                       guardrailConfig={"guardrailIdentifier": guard[0], "guardrailVersion": guard[1],
                                                        "trace": trace, "streamProcessingMode": mode})
    return list(response["stream"])


def streamed_text(events: list[dict[str, Any]]) -> str:
    return "".join(e["contentBlockDelta"]["delta"]["text"] for e in events if "contentBlockDelta" in e)


def test_blocked_input_never_reaches_the_model(clients: tuple[Any, Any], guardrail: tuple[str, str],
                                               scripted: tuple[ThreadServer, ScriptedChat]) -> None:
    _, runtime = clients
    chat = scripted[1]
    before = len(chat.tasks)
    for text in ("Tell me everything about Project Falcon.", "今買うべき株の銘柄はどれですか？", "my card: 4111 1111 1111 1111"):
        response = converse(runtime, text, guardrail)
        assert response["stopReason"] == "guardrail_intervened", text
        assert response["output"]["message"]["content"] == [{"text": BLOCKED_IN}]
        assert response["usage"] == {"inputTokens": 0, "outputTokens": 0, "totalTokens": 0}
        trace = response["trace"]["guardrail"]
        assert trace["actionReason"] == "Guardrail blocked."
        assessment = trace["inputAssessment"][guardrail[0]]
        assert assessment["appliedGuardrailDetails"]["guardrailVersion"] == guardrail[1]
        assert "outputAssessments" not in trace
    events = stream_events(runtime, "What the fuck is this", guardrail, "sync")
    assert streamed_text(events) == BLOCKED_IN
    assert next(e for e in events if "messageStop" in e)["messageStop"]["stopReason"] == "guardrail_intervened"
    metadata = next(e for e in events if "metadata" in e)["metadata"]
    assert metadata["trace"]["guardrail"]["inputAssessment"][guardrail[0]]["wordPolicy"]["managedWordLists"][0]["match"] == "fuck"
    assert len(chat.tasks) == before  # the engine was never asked


def test_clean_exchange_passes_with_trace(clients: tuple[Any, Any], guardrail: tuple[str, str],
                                          scripted: tuple[ThreadServer, ScriptedChat]) -> None:
    _, runtime = clients
    chat = scripted[1]
    chat.reply = "The capital of Australia is Canberra."
    response = converse(runtime, "What is the capital of Australia?", guardrail)
    assert response["stopReason"] == "end_turn"
    assert response["output"]["message"]["content"] == [{"text": chat.reply}]
    trace = response["trace"]["guardrail"]
    assert set(trace) == {"inputAssessment", "outputAssessments"}
    assert len(trace["outputAssessments"][guardrail[0]]) == 1
    no_trace = converse(runtime, "What is the capital of Australia?", guardrail, trace="disabled")
    assert "trace" not in no_trace


def test_output_masked_and_blocked(clients: tuple[Any, Any], guardrail: tuple[str, str],
                                   scripted: tuple[ThreadServer, ScriptedChat]) -> None:
    _, runtime = clients
    chat = scripted[1]
    chat.reply = "担当者のメールは sato@example.jp です。"
    response = converse(runtime, "担当者の連絡先は？", guardrail)
    assert response["stopReason"] == "guardrail_intervened"
    assert response["output"]["message"]["content"] == [{"text": "担当者のメールは {EMAIL} です。"}]
    trace = response["trace"]["guardrail"]
    assert trace["modelOutput"] == [chat.reply] and trace["actionReason"] == "Guardrail masked."
    entity = trace["outputAssessments"][guardrail[0]][0]["sensitiveInformationPolicy"]["piiEntities"][0]
    assert entity == {"match": "sato@example.jp", "type": "EMAIL", "action": "ANONYMIZED", "detected": True}

    chat.reply = "Sure, this is a shitty answer."
    response = converse(runtime, "Answer me.", guardrail)
    assert response["stopReason"] == "guardrail_intervened"
    assert response["output"]["message"]["content"] == [{"text": BLOCKED_OUT}]


def test_masked_input_reaches_the_model_masked(clients: tuple[Any, Any], guardrail: tuple[str, str],
                                               scripted: tuple[ThreadServer, ScriptedChat]) -> None:
    _, runtime = clients
    chat = scripted[1]
    chat.reply = "Noted."
    response = converse(runtime, "Please write to me at yamada@example.com tomorrow.", guardrail)
    assert response["stopReason"] == "end_turn"
    sent = [p.text for p in chat.tasks[-1].turns[0].parts if isinstance(p, TextPart)]
    assert sent == ["Please write to me at {EMAIL} tomorrow."]
    assessment = response["trace"]["guardrail"]["inputAssessment"][guardrail[0]]
    assert assessment["sensitiveInformationPolicy"]["piiEntities"][0]["action"] == "ANONYMIZED"


def test_guard_content_limits_what_is_assessed(clients: tuple[Any, Any], guardrail: tuple[str, str],
                                               scripted: tuple[ThreadServer, ScriptedChat]) -> None:
    _, runtime = clients
    chat = scripted[1]
    chat.reply = "OK."
    before = len(chat.tasks)
    # The profanity sits outside guardContent: not assessed, so the model runs.
    content = [{"text": "Some fucking context."}, {"guardContent": {"text": {"text": "What is 2 + 2?"}}}]
    assert converse(runtime, content, guardrail)["stopReason"] == "end_turn"
    assert len(chat.tasks) == before + 1
    sent = [p.text for p in chat.tasks[-1].turns[0].parts if isinstance(p, TextPart)]
    assert sent == ["Some fucking context.", "What is 2 + 2?"]  # the model sees both
    content = [{"text": "Context."}, {"guardContent": {"text": {"text": "Tell me about project falcon"}}}]
    assert converse(runtime, content, guardrail)["stopReason"] == "guardrail_intervened"
    assert len(chat.tasks) == before + 1


def test_guard_content_images_are_assessed_and_reach_the_model(clients: tuple[Any, Any],
                                                               scripted: tuple[ThreadServer, ScriptedChat]) -> None:
    """guardContent image blocks: checked by the IMAGE-modality content filters (open_nsfw for SEXUAL)
    before the model runs, and handed to the model as images when they pass."""
    from images import image_bytes, shape_image, skin_figure
    from outcrop.tasks.chat import ImagePart

    control, runtime = clients
    chat = scripted[1]
    gid = control.create_guardrail(
        name="converse-images", blockedInputMessaging=BLOCKED_IN, blockedOutputsMessaging=BLOCKED_OUT,
        wordPolicyConfig={"wordsConfig": [{"text": "project falcon"}]},
        contentPolicyConfig={"filtersConfig": [{"type": "SEXUAL", "inputStrength": "HIGH", "outputStrength": "NONE",
                                                "inputModalities": ["TEXT", "IMAGE"]}]})["guardrailId"]
    flagged = {"guardContent": {"image": {"format": "png", "source": {"bytes": image_bytes(skin_figure())}}}}
    plain = {"guardContent": {"image": {"format": "jpeg", "source": {"bytes": image_bytes(shape_image(), "JPEG")}}}}
    before = len(chat.tasks)
    response = converse(runtime, [{"text": "Describe this picture."}, flagged], (gid, "DRAFT"))
    assert response["stopReason"] == "guardrail_intervened"
    assert response["output"]["message"]["content"] == [{"text": BLOCKED_IN}]
    assessment = response["trace"]["guardrail"]["inputAssessment"][gid]
    assert [(f["type"], f["confidence"], f["action"]) for f in assessment["contentPolicy"]["filters"]] == [
        ("SEXUAL", "MEDIUM", "BLOCKED")]
    assert assessment["invocationMetrics"]["guardrailCoverage"]["images"] == {"guarded": 1, "total": 1}
    assert len(chat.tasks) == before  # never reached the model

    chat.reply = "A red ellipse."
    # A guardContent image alone makes it the only guarded content: the plain text is not assessed.
    response = converse(runtime, [{"text": "About project falcon: what is this?"}, plain], (gid, "DRAFT"))
    assert response["stopReason"] == "end_turn"
    assessment = response["trace"]["guardrail"]["inputAssessment"][gid]
    assert assessment["invocationMetrics"]["guardrailCoverage"] == {
        "textCharacters": {"guarded": 0, "total": 0}, "images": {"guarded": 1, "total": 1}}
    parts = chat.tasks[-1].turns[0].parts
    assert [type(p).__name__ for p in parts] == ["TextPart", "ImagePart"]  # the model sees the image
    assert isinstance(parts[1], ImagePart) and parts[1].image.size == shape_image().size
    # Without guardContent the message text is what is assessed.
    response = converse(runtime, [{"text": "About project falcon: what is this?"}], (gid, "DRAFT"))
    assert response["stopReason"] == "guardrail_intervened"
    events = list(runtime.converse_stream(modelId=MODEL, messages=[{"role": "user", "content": [{"text": "Look."}, flagged]}],
                                          guardrailConfig={"guardrailIdentifier": gid, "guardrailVersion": "DRAFT"})["stream"])
    assert streamed_text(events) == BLOCKED_IN


@pytest.mark.parametrize("mode", ["sync", "async"])
def test_converse_stream_output_modes(mode: str, clients: tuple[Any, Any], guardrail: tuple[str, str],
                                      scripted: tuple[ThreadServer, ScriptedChat]) -> None:
    _, runtime = clients
    chat = scripted[1]
    chat.reply = "Write to sato@example.jp for details."
    events = stream_events(runtime, "Who do I ask?", guardrail, mode)
    deltas = [e for e in events if "contentBlockDelta" in e]
    stop = next(e for e in events if "messageStop" in e)["messageStop"]
    trace = next(e for e in events if "metadata" in e)["metadata"]["trace"]["guardrail"]
    assert stop["stopReason"] == "guardrail_intervened"
    assert trace["outputAssessments"][guardrail[0]][0]["sensitiveInformationPolicy"]["piiEntities"][0]["type"] == "EMAIL"
    if mode == "sync":  # held back until assessed: only the masked text ever leaves the server
        assert streamed_text(events) == "Write to {EMAIL} for details."
        assert len(deltas) == 1
    else:  # streamed as generated, assessed at the end
        assert streamed_text(events) == chat.reply
        assert len(deltas) == len(chat.reply.split(" "))
    chat.reply = "All fine here."
    events = stream_events(runtime, "Status?", guardrail, mode)
    assert streamed_text(events) == "All fine here."
    assert next(e for e in events if "messageStop" in e)["messageStop"]["stopReason"] == "end_turn"


def test_unknown_guardrail_and_bad_config(clients: tuple[Any, Any], guardrail: tuple[str, str],
                                          scripted: tuple[ThreadServer, ScriptedChat]) -> None:
    _, runtime = clients
    chat = scripted[1]
    before = len(chat.tasks)
    for guard in (("zzzzzzzzzzzz", "1"), (guardrail[0], "99")):
        with pytest.raises(ClientError) as excinfo:
            converse(runtime, "hi", guard)
        assert excinfo.value.response["Error"]["Code"] == "ResourceNotFoundException"
        with pytest.raises(ClientError) as excinfo:
            list(runtime.converse_stream(modelId=MODEL, messages=[{"role": "user", "content": [{"text": "hi"}]}],
                                         guardrailConfig={"guardrailIdentifier": guard[0], "guardrailVersion": guard[1]})["stream"])
        assert excinfo.value.response["Error"]["Code"] == "ResourceNotFoundException"
    for config in ({"guardrailIdentifier": guardrail[0]}, {"guardrailIdentifier": guardrail[0], "guardrailVersion": "v2"}):
        with pytest.raises(ClientError) as excinfo:
            runtime.converse(modelId=MODEL, messages=[{"role": "user", "content": [{"text": "hi"}]}], guardrailConfig=config)
        assert excinfo.value.response["Error"]["Code"] == "ValidationException"
    assert len(chat.tasks) == before


def test_real_tiny_vlm_with_a_guardrail(tmp_path: Path) -> None:
    """The whole path on the test profile's real (random-weight) VLM: guarded, answered, traced."""
    from outcrop.config import Settings
    from outcrop.server.app import build_app

    with ThreadServer(build_app(Settings.from_env(profile="test", data_dir=tmp_path))) as server:
        control = boto3.client("bedrock", endpoint_url=server.url)
        runtime = boto3.client("bedrock-runtime", endpoint_url=server.url)
        gid = control.create_guardrail(name="tiny", blockedInputMessaging="no", blockedOutputsMessaging="no",
                                       wordPolicyConfig={"wordsConfig": [{"text": "zqxjkvw"}]})["guardrailId"]
        response = converse(runtime, "Describe a cat.", (gid, "DRAFT"), inferenceConfig={"maxTokens": 8})
        assert response["stopReason"] in ("end_turn", "max_tokens")
        assert response["usage"]["outputTokens"] > 0
        assert set(response["trace"]["guardrail"]) >= {"inputAssessment", "outputAssessments"}
        blocked = converse(runtime, "say zqxjkvw", (gid, "DRAFT"), inferenceConfig={"maxTokens": 8})
        assert blocked["output"]["message"]["content"] == [{"text": "no"}]


# --- InvokeModel / InvokeModelWithResponseStream with the guardrail headers ---------------------------
def anthropic_body(text: str, **extra: Any) -> str:
    import json

    return json.dumps({"anthropic_version": "bedrock-2023-05-31", "max_tokens": 50,
                       "messages": [{"role": "user", "content": text}], **extra})


def invoke(runtime: Any, text: str, guard: tuple[str, str] | None, trace: str = "ENABLED", **extra: Any) -> dict[str, Any]:
    import json

    params: dict[str, Any] = {"modelId": MODEL, "contentType": "application/json", "accept": "application/json",
                              "body": anthropic_body(text, **extra)}
    if guard is not None:
        params.update(guardrailIdentifier=guard[0], guardrailVersion=guard[1], trace=trace)
    return json.loads(runtime.invoke_model(**params)["body"].read())


def test_invoke_model_headers_block_and_mask(clients: tuple[Any, Any], guardrail: tuple[str, str],
                                             scripted: tuple[ThreadServer, ScriptedChat]) -> None:
    _, runtime = clients
    chat = scripted[1]
    before = len(chat.tasks)
    body = invoke(runtime, "Tell me about project falcon", guardrail)
    assert body["content"] == [{"type": "text", "text": BLOCKED_IN}]
    assert body["amazon-bedrock-guardrailAction"] == "INTERVENED"
    assert body["amazon-bedrock-trace"]["guardrail"]["input"][guardrail[0]]["wordPolicy"]["customWords"][0]["match"] == "project falcon"
    assert len(chat.tasks) == before  # never reached the model

    chat.reply = "Contact sato@example.jp."
    body = invoke(runtime, "Who do I contact?", guardrail)
    assert body["content"] == [{"type": "text", "text": "Contact {EMAIL}."}]
    assert body["amazon-bedrock-guardrailAction"] == "INTERVENED"
    assert len(body["amazon-bedrock-trace"]["guardrail"]["outputs"]) == 1

    chat.reply = "Fine."
    body = invoke(runtime, "Hello", guardrail, trace="DISABLED")
    assert body["content"][0]["text"] == "Fine." and body["amazon-bedrock-guardrailAction"] == "NONE"
    assert "amazon-bedrock-trace" not in body
    assert "amazon-bedrock-guardrailAction" not in invoke(runtime, "Hello", None)


def test_invoke_model_tag_suffix_limits_what_is_assessed(clients: tuple[Any, Any], guardrail: tuple[str, str],
                                                         scripted: tuple[ThreadServer, ScriptedChat]) -> None:
    _, runtime = clients
    chat = scripted[1]
    chat.reply = "OK."
    tagged = "Context about project falcon. <amazon-bedrock-guardrails-guardContent_abc>What is 2+2?</amazon-bedrock-guardrails-guardContent_abc>"
    body = invoke(runtime, tagged, guardrail, **{"amazon-bedrock-guardrailConfig": {"tagSuffix": "abc"}})
    assert body["amazon-bedrock-guardrailAction"] == "NONE" and body["content"][0]["text"] == "OK."
    assert [p.text for p in chat.tasks[-1].turns[0].parts] == ["Context about project falcon. What is 2+2?"]
    tagged = "<amazon-bedrock-guardrails-guardContent_abc>project falcon?</amazon-bedrock-guardrails-guardContent_abc>"
    body = invoke(runtime, tagged, guardrail, **{"amazon-bedrock-guardrailConfig": {"tagSuffix": "abc"}})
    assert body["amazon-bedrock-guardrailAction"] == "INTERVENED"


@pytest.mark.parametrize("mode", ["sync", "async"])
def test_invoke_model_stream_with_guardrail(mode: str, clients: tuple[Any, Any], guardrail: tuple[str, str],
                                            scripted: tuple[ThreadServer, ScriptedChat]) -> None:
    import json

    _, runtime = clients
    chat = scripted[1]
    chat.reply = "Write to sato@example.jp today."
    response = runtime.invoke_model_with_response_stream(
        modelId=MODEL, contentType="application/json", guardrailIdentifier=guardrail[0], guardrailVersion=guardrail[1],
        trace="ENABLED", body=anthropic_body("Who?", **{"amazon-bedrock-guardrailConfig": {"streamProcessingMode": mode}}))
    chunks = [json.loads(e["chunk"]["bytes"]) for e in response["body"]]
    text = "".join(c["delta"]["text"] for c in chunks if c["type"] == "content_block_delta")
    stop = chunks[-1]
    assert stop["type"] == "message_stop" and stop["amazon-bedrock-guardrailAction"] == "INTERVENED"
    assert stop["amazon-bedrock-trace"]["guardrail"]["outputs"][0][guardrail[0]]["sensitiveInformationPolicy"]
    assert text == ("Write to {EMAIL} today." if mode == "sync" else chat.reply)


def test_invoke_model_guardrail_bad_input(clients: tuple[Any, Any], guardrail: tuple[str, str],
                                          scripted: tuple[ThreadServer, ScriptedChat]) -> None:
    import httpx

    server = scripted[0]
    _, runtime = clients
    url = f"{server.url}/model/{MODEL}/invoke"
    cases = [({"X-Amzn-Bedrock-GuardrailIdentifier": guardrail[0]}, anthropic_body("hi"), "ValidationException"),
             ({}, anthropic_body("hi", **{"amazon-bedrock-guardrailConfig": {"tagSuffix": "x"}}), "ValidationException"),
             ({"X-Amzn-Bedrock-GuardrailIdentifier": "zzzzzzzzzzzz", "X-Amzn-Bedrock-GuardrailVersion": "1"},
              anthropic_body("hi"), "ResourceNotFoundException")]
    for headers, body, code in cases:
        response = httpx.post(url, content=body, headers={"Content-Type": "application/json", **headers}, timeout=30)
        assert response.headers["x-amzn-errortype"].startswith(code), response.text
    with pytest.raises(ClientError) as excinfo:  # a model family this server does not guard on InvokeModel
        runtime.invoke_model(modelId="amazon.titan-embed-image-v1", body='{"inputText": "x"}', contentType="application/json",
                             guardrailIdentifier=guardrail[0], guardrailVersion=guardrail[1])
    assert excinfo.value.response["Error"]["Code"] == "ValidationException"

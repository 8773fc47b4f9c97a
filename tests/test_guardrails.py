"""Guardrails through real boto3 `bedrock` (control plane) and `bedrock-runtime` (ApplyGuardrail)
clients against a real `outcrop serve` with its own data directory: create → version → apply for
each policy, INPUT and OUTPUT, masking and blocking, Japanese and English, Bedrock's errors for
bad input, concurrent writers, and guardrails that survive a restart."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import boto3
import pytest
from botocore.config import Config
from botocore.exceptions import ClientError

from servers import ServerProcess

BLOCKED_IN = "入力はガードレールによりブロックされました。"
BLOCKED_OUT = "The answer was blocked by a guardrail."
INVESTMENT = {"name": "investment-advice", "type": "DENY",
              "definition": "Recommendations about which stocks, funds or cryptocurrencies to buy or sell to make money.",
              "examples": ["Which stocks should I buy this year?", "おすすめの投資信託を教えて"]}


@pytest.fixture(scope="module")
def data_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("guardrail-data")


def _start(data_dir: Path, log: Path) -> ServerProcess:
    return ServerProcess("--profile", "test", env={"OUTCROP_DATA_DIR": str(data_dir)}, log=log).start()


@pytest.fixture(scope="module")
def guard_server(data_dir: Path) -> Iterator[ServerProcess]:
    server = _start(data_dir, data_dir.parent / "guard-server.log")
    yield server
    server.stop()


@pytest.fixture(scope="module")
def control(guard_server: ServerProcess) -> Any:
    return boto3.client("bedrock", endpoint_url=guard_server.url)


@pytest.fixture(scope="module")
def unchecked(guard_server: ServerProcess) -> Any:
    """A `bedrock` client that sends what botocore would refuse, to see the server's own answer."""
    return boto3.client("bedrock", endpoint_url=guard_server.url,
                        config=Config(parameter_validation=False, retries={"total_max_attempts": 1}))


@pytest.fixture(scope="module")
def runtime(guard_server: ServerProcess) -> Any:
    return boto3.client("bedrock-runtime", endpoint_url=guard_server.url)


def create(control: Any, name: str, **policies: Any) -> dict[str, Any]:
    return control.create_guardrail(name=name, blockedInputMessaging=BLOCKED_IN, blockedOutputsMessaging=BLOCKED_OUT,
                                    **policies)


def apply(runtime: Any, guardrail_id: str, text: str | list[str], source: str = "INPUT", version: str = "DRAFT",
          **extra: Any) -> dict[str, Any]:
    texts = [text] if isinstance(text, str) else text
    return runtime.apply_guardrail(guardrailIdentifier=guardrail_id, guardrailVersion=version, source=source,
                                   content=[{"text": {"text": t}} for t in texts], **extra)


def error_of(excinfo: pytest.ExceptionInfo[ClientError]) -> tuple[str, int, str]:
    response = excinfo.value.response
    return response["Error"]["Code"], response["ResponseMetadata"]["HTTPStatusCode"], response["Error"]["Message"]


# --- control plane ------------------------------------------------------------------------------------
def test_create_version_get_list_update_delete(control: Any, runtime: Any) -> None:
    created = create(control, "lifecycle", description="first draft",
                     wordPolicyConfig={"wordsConfig": [{"text": "project falcon"}]})
    gid = created["guardrailId"]
    assert created["version"] == "DRAFT" and created["guardrailArn"].endswith(f":guardrail/{gid}")
    assert created["guardrailArn"].startswith("arn:aws:bedrock:us-east-1:") and gid.isalnum() and gid.islower()
    assert created["ResponseMetadata"]["HTTPStatusCode"] == 202

    draft = control.get_guardrail(guardrailIdentifier=gid)
    assert draft["status"] == "READY" and draft["version"] == "DRAFT" and draft["name"] == "lifecycle"
    assert draft["wordPolicy"]["words"] == [{"text": "project falcon", "inputAction": "BLOCK", "outputAction": "BLOCK",
                                             "inputEnabled": True, "outputEnabled": True}]
    assert draft["blockedInputMessaging"] == BLOCKED_IN and draft["description"] == "first draft"

    assert control.create_guardrail_version(guardrailIdentifier=gid, description="v1")["version"] == "1"
    control.update_guardrail(guardrailIdentifier=created["guardrailArn"], name="lifecycle", blockedInputMessaging="no",
                             blockedOutputsMessaging="no", wordPolicyConfig={"wordsConfig": [{"text": "project eagle"}]})
    assert control.create_guardrail_version(guardrailIdentifier=gid)["version"] == "2"

    # Version 1 is immutable: it still has the first word list, the DRAFT has the new one.
    v1 = control.get_guardrail(guardrailIdentifier=gid, guardrailVersion="1")
    assert v1["version"] == "1" and v1["description"] == "v1" and v1["wordPolicy"]["words"][0]["text"] == "project falcon"
    assert apply(runtime, gid, "about project falcon", version="1")["action"] == "GUARDRAIL_INTERVENED"
    assert apply(runtime, gid, "about project falcon", version="DRAFT")["action"] == "NONE"
    assert apply(runtime, gid, "about project eagle", version="2")["outputs"] == [{"text": "no"}]

    versions = control.list_guardrails(guardrailIdentifier=gid)["guardrails"]
    assert [v["version"] for v in versions] == ["DRAFT", "1", "2"]
    assert gid in {g["id"] for g in control.list_guardrails()["guardrails"]}

    control.delete_guardrail(guardrailIdentifier=gid, guardrailVersion="1")
    with pytest.raises(ClientError) as excinfo:
        control.get_guardrail(guardrailIdentifier=gid, guardrailVersion="1")
    assert error_of(excinfo)[:2] == ("ResourceNotFoundException", 404)
    assert control.get_guardrail(guardrailIdentifier=gid, guardrailVersion="2")["version"] == "2"
    control.delete_guardrail(guardrailIdentifier=gid)
    with pytest.raises(ClientError) as excinfo:
        apply(runtime, gid, "x", version="2")
    assert error_of(excinfo)[:2] == ("ResourceNotFoundException", 404)
    assert gid not in {g["id"] for g in control.list_guardrails()["guardrails"]}


def test_list_paginates(control: Any) -> None:
    for i in range(3):
        create(control, f"page-{i}", wordPolicyConfig={"managedWordListsConfig": [{"type": "PROFANITY"}]})
    first = control.list_guardrails(maxResults=2)
    assert len(first["guardrails"]) == 2 and "nextToken" in first
    names = {g["name"] for g in first["guardrails"]}
    token = first.get("nextToken")
    while token:
        page = control.list_guardrails(maxResults=2, nextToken=token)
        names |= {g["name"] for g in page["guardrails"]}
        token = page.get("nextToken")
    assert {"page-0", "page-1", "page-2"} <= names


def test_validation_wording(unchecked: Any) -> None:
    cases = [
        ({"name": "bad name!", "blockedInputMessaging": "a", "blockedOutputsMessaging": "b",
          "wordPolicyConfig": {"wordsConfig": [{"text": "x"}]}},
         "1 validation error detected: Value at 'name' failed to satisfy constraint: Member must satisfy regular "
         "expression pattern: [0-9a-zA-Z-_]+"),
        ({"name": "ok", "blockedOutputsMessaging": "b", "wordPolicyConfig": {"wordsConfig": [{"text": "x"}]}},
         "1 validation error detected: Value null at 'blockedInputMessaging' failed to satisfy constraint: Member must not be null"),
        ({"name": "ok", "blockedInputMessaging": "a", "blockedOutputsMessaging": "b",
          "sensitiveInformationPolicyConfig": {"piiEntitiesConfig": [{"type": "SHOE_SIZE", "action": "BLOCK"}]}},
         "Value 'SHOE_SIZE' at 'sensitiveInformationPolicyConfig.piiEntitiesConfig.1.member.type' failed to satisfy "
         "constraint: Member must satisfy enum value set: [ADDRESS, AGE,"),
        ({"name": "ok", "blockedInputMessaging": "a", "blockedOutputsMessaging": "b",
          "topicPolicyConfig": {"topicsConfig": [{**INVESTMENT, "examples": ["x"] * 6}]}},
         "at 'topicPolicyConfig.topicsConfig.1.member.examples' failed to satisfy constraint: Member must have length "
         "less than or equal to 5"),
    ]
    for params, wording in cases:
        with pytest.raises(ClientError) as excinfo:
            unchecked.create_guardrail(**params)
        code, status, message = error_of(excinfo)
        assert (code, status) == ("ValidationException", 400)
        assert wording in message, message


def test_no_policy_and_unsupported_policies_are_refused(control: Any) -> None:
    with pytest.raises(ClientError) as excinfo:
        create(control, "empty")
    assert error_of(excinfo)[0] == "ValidationException" and "at least one policy" in error_of(excinfo)[2]
    with pytest.raises(ClientError) as excinfo:
        create(control, "empty-words", wordPolicyConfig={})
    assert "at least one policy" in error_of(excinfo)[2]
    with pytest.raises(ClientError) as excinfo:
        create(control, "content", automatedReasoningPolicyConfig={"policies": [
            "arn:aws:bedrock:us-east-1:000000000000:automated-reasoning-policy/abc"]})
    assert error_of(excinfo)[0] == "ValidationException" and "not supported by this server" in error_of(excinfo)[2]
    with pytest.raises(ClientError) as excinfo:
        create(control, "names", sensitiveInformationPolicyConfig={"piiEntitiesConfig": [
            {"type": "EMAIL", "action": "BLOCK"}, {"type": "EMAIL", "action": "NONE"}]})
    assert error_of(excinfo)[0] == "ValidationException" and "more than once" in error_of(excinfo)[2]
    names = {g["name"] for g in control.list_guardrails(maxResults=1000)["guardrails"]}
    assert not names & {"empty", "empty-words", "content", "names"}  # a refusal changes nothing


def test_catastrophic_and_invalid_regexes_are_refused_at_creation(control: Any) -> None:
    for pattern, words in ((r"(a+)+$", "backtracks catastrophically"), (r"(x+x+)+y", "backtracks catastrophically"),
                           (r"([A-Z", "valid regular expression")):
        with pytest.raises(ClientError) as excinfo:
            create(control, "bad-regex", sensitiveInformationPolicyConfig={
                "regexesConfig": [{"name": "r", "pattern": pattern, "action": "BLOCK"}]})
        code, _, message = error_of(excinfo)
        assert code == "ValidationException" and words in message, message
        assert "regexesConfig.1.member.pattern" in message


def test_duplicate_name_is_a_conflict(control: Any) -> None:
    create(control, "taken", wordPolicyConfig={"wordsConfig": [{"text": "a"}]})
    with pytest.raises(ClientError) as excinfo:
        create(control, "taken", wordPolicyConfig={"wordsConfig": [{"text": "b"}]})
    assert error_of(excinfo)[:2] == ("ConflictException", 400)


def test_client_token_makes_create_idempotent(control: Any) -> None:
    params = {"wordPolicyConfig": {"wordsConfig": [{"text": "a"}]}, "clientRequestToken": "retry-token-1"}
    first = create(control, "idempotent", **params)
    again = create(control, "idempotent", **params)
    assert again["guardrailId"] == first["guardrailId"]
    with pytest.raises(ClientError) as excinfo:
        create(control, "idempotent-other", **params)
    assert error_of(excinfo)[0] == "ConflictException"


def test_unknown_ids_versions_and_bad_identifiers(control: Any, unchecked: Any, runtime: Any) -> None:
    gid = create(control, "known", wordPolicyConfig={"wordsConfig": [{"text": "a"}]})["guardrailId"]
    for call in (lambda: control.get_guardrail(guardrailIdentifier="zzzzzzzzzzzz"),
                 lambda: control.get_guardrail(guardrailIdentifier=gid, guardrailVersion="7"),
                 lambda: control.delete_guardrail(guardrailIdentifier="zzzzzzzzzzzz"),
                 lambda: control.create_guardrail_version(guardrailIdentifier="zzzzzzzzzzzz"),
                 lambda: apply(runtime, gid, "hi", version="9"),
                 lambda: apply(runtime, "arn:aws:bedrock:us-east-1:000000000000:guardrail/zzzzzzzzzzzz", "hi")):
        with pytest.raises(ClientError) as excinfo:
            call()
        assert error_of(excinfo)[:2] == ("ResourceNotFoundException", 404)
    for call in (lambda: unchecked.get_guardrail(guardrailIdentifier="Not-An-Id"),
                 lambda: unchecked.get_guardrail(guardrailIdentifier=gid, guardrailVersion="v1"),
                 lambda: unchecked.delete_guardrail(guardrailIdentifier=gid, guardrailVersion="DRAFT")):
        with pytest.raises(ClientError) as excinfo:
            call()
        code, status, message = error_of(excinfo)
        assert (code, status) == ("ValidationException", 400) and "failed to satisfy constraint" in message


def test_concurrent_writers_keep_one_consistent_result(control: Any) -> None:
    results: list[str] = []
    lock = threading.Lock()

    def worker(i: int) -> None:
        try:
            create(control, "contested", wordPolicyConfig={"wordsConfig": [{"text": f"w{i}"}]})
            outcome = "created"
        except ClientError as exc:
            outcome = exc.response["Error"]["Code"]
        with lock:
            results.append(outcome)

    threads = [threading.Thread(target=worker, args=(i,)) for i in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sorted(results) == ["ConflictException"] * 7 + ["created"]
    gid = next(g["id"] for g in control.list_guardrails(maxResults=1000)["guardrails"] if g["name"] == "contested")

    def version(_: int) -> None:
        control.create_guardrail_version(guardrailIdentifier=gid)

    threads = [threading.Thread(target=version, args=(i,)) for i in range(6)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    numbers = [v["version"] for v in control.list_guardrails(guardrailIdentifier=gid)["guardrails"]]
    assert numbers == ["DRAFT", "1", "2", "3", "4", "5", "6"]  # none lost, none twice


def test_two_servers_on_one_data_dir(tmp_path: Path) -> None:
    """Concurrent writers in two processes: every create lands once, a contested name goes to one."""
    first, second = (_start(tmp_path / "shared", tmp_path / f"server-{i}.log") for i in range(2))
    try:
        clients = [boto3.client("bedrock", endpoint_url=s.url, config=Config(retries={"total_max_attempts": 1}))
                   for s in (first, second)]
        outcomes: list[str] = []
        lock = threading.Lock()

        def worker(i: int) -> None:
            client = clients[i % 2]
            create(client, f"distinct-{i}", wordPolicyConfig={"wordsConfig": [{"text": "x"}]})
            try:
                create(client, "shared-name", wordPolicyConfig={"wordsConfig": [{"text": f"w{i}"}]})
                outcome = "created"
            except ClientError as exc:
                outcome = exc.response["Error"]["Code"]
            with lock:
                outcomes.append(outcome)

        threads = [threading.Thread(target=worker, args=(i,)) for i in range(10)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        assert sorted(outcomes) == ["ConflictException"] * 9 + ["created"]
        views = [sorted(g["name"] for g in c.list_guardrails(maxResults=1000)["guardrails"]) for c in clients]
        assert views[0] == views[1] == sorted([f"distinct-{i}" for i in range(10)] + ["shared-name"])
    finally:
        first.stop()
        second.stop()


# --- ApplyGuardrail, per policy ---------------------------------------------------------------------
def test_word_filters_custom_and_profanity_en_ja(control: Any, runtime: Any) -> None:
    gid = create(control, "words", wordPolicyConfig={
        "wordsConfig": [{"text": "Project Falcon"}, {"text": "競合他社"}, {"text": "heck", "inputAction": "NONE"}],
        "managedWordListsConfig": [{"type": "PROFANITY"}]})["guardrailId"]
    control.create_guardrail_version(guardrailIdentifier=gid)

    out = apply(runtime, gid, "Tell me about PROJECT   falcon.", version="1")
    assert out["action"] == "GUARDRAIL_INTERVENED" and out["outputs"] == [{"text": BLOCKED_IN}]
    assert out["assessments"][0]["wordPolicy"]["customWords"] == [{"match": "Project Falcon", "action": "BLOCKED", "detected": True}]
    out = apply(runtime, gid, "競合他社の製品と比べてください", version="1")
    assert out["assessments"][0]["wordPolicy"]["customWords"][0]["match"] == "競合他社"
    out = apply(runtime, gid, "this is fucking broken", version="1", source="OUTPUT")
    assert out["outputs"] == [{"text": BLOCKED_OUT}]
    assert out["assessments"][0]["wordPolicy"]["managedWordLists"] == [
        {"match": "fucking", "type": "PROFANITY", "action": "BLOCKED", "detected": True}]
    out = apply(runtime, gid, "うるさい、死ね", version="1")
    assert out["assessments"][0]["wordPolicy"]["managedWordLists"][0]["match"] == "死ね"
    # Whole words only: no profanity inside "class" or "Scunthorpe"; detect-only words don't block.
    out = apply(runtime, gid, "The class met in Scunthorpe; 少しね、待って。", version="1")
    assert out["action"] == "NONE" and out["outputs"] == [] and "wordPolicy" not in out["assessments"][0]
    out = apply(runtime, gid, "what the heck", version="1")
    assert out["action"] == "NONE"
    assert out["assessments"][0]["wordPolicy"]["customWords"] == [{"match": "heck", "action": "NONE", "detected": True}]
    out = apply(runtime, gid, "what the heck", version="1", source="OUTPUT")  # outputAction defaults to BLOCK
    assert out["action"] == "GUARDRAIL_INTERVENED"


def test_ten_thousand_custom_words(control: Any, unchecked: Any, runtime: Any) -> None:
    words = [{"text": f"codeword{i:05d}"} for i in range(10_000)]
    gid = create(control, "many-words", wordPolicyConfig={"wordsConfig": words})["guardrailId"]
    out = apply(runtime, gid, "nothing here but codeword09999 and more")
    assert out["assessments"][0]["wordPolicy"]["customWords"] == [{"match": "codeword09999", "action": "BLOCKED", "detected": True}]
    assert apply(runtime, gid, "codeword10000 is not on the list")["action"] == "NONE"
    with pytest.raises(ClientError) as excinfo:
        unchecked.create_guardrail(name="too-many-words", blockedInputMessaging="a", blockedOutputsMessaging="b",
                                   wordPolicyConfig={"wordsConfig": words + [{"text": "one-more"}]})
    code, _, message = error_of(excinfo)
    assert code == "ValidationException"
    assert "at 'wordPolicyConfig.wordsConfig' failed to satisfy constraint: Member must have length less than or equal to 10000" in message


PII_POLICY = {"piiEntitiesConfig": [
    {"type": "EMAIL", "action": "ANONYMIZE"}, {"type": "PHONE", "action": "ANONYMIZE"},
    {"type": "CREDIT_DEBIT_CARD_NUMBER", "action": "BLOCK"}, {"type": "US_SOCIAL_SECURITY_NUMBER", "action": "BLOCK"},
    {"type": "IP_ADDRESS", "action": "ANONYMIZE"}, {"type": "AWS_ACCESS_KEY", "action": "BLOCK"},
    {"type": "INTERNATIONAL_BANK_ACCOUNT_NUMBER", "action": "ANONYMIZE"}, {"type": "ADDRESS", "action": "ANONYMIZE"},
    {"type": "PIN", "action": "ANONYMIZE"}, {"type": "URL", "action": "NONE"}],
    "regexesConfig": [{"name": "employee_id", "pattern": r"EMP-\d{6}", "action": "ANONYMIZE"}]}


def test_pii_masking_en_ja(control: Any, runtime: Any) -> None:
    gid = create(control, "pii", sensitiveInformationPolicyConfig=PII_POLICY)["guardrailId"]
    out = apply(runtime, gid, "Mail taro@example.co.jp or call +1 415-555-2671 from 10.0.0.12; see https://example.com")
    assert out["action"] == "GUARDRAIL_INTERVENED" and out["actionReason"] == "Guardrail masked."
    assert out["outputs"] == [{"text": "Mail {EMAIL} or call {PHONE} from {IP_ADDRESS}; see https://example.com"}]
    found = {(e["type"], e["match"], e["action"]) for e in out["assessments"][0]["sensitiveInformationPolicy"]["piiEntities"]}
    assert found == {("EMAIL", "taro@example.co.jp", "ANONYMIZED"), ("PHONE", "+1 415-555-2671", "ANONYMIZED"),
                     ("IP_ADDRESS", "10.0.0.12", "ANONYMIZED"), ("URL", "https://example.com", "NONE")}

    text = "〒100-0005 東京都千代田区丸の内1-1-1 に住む。電話 090-1234-5678、マイナンバーは 1234 5678 9018、社員番号 EMP-004211。"
    out = apply(runtime, gid, text, source="OUTPUT")
    assert out["outputs"] == [{"text": "{ADDRESS} {ADDRESS} に住む。電話 {PHONE}、マイナンバーは {PIN}、社員番号 {employee_id}。"}]
    assert out["assessments"][0]["sensitiveInformationPolicy"]["regexes"] == [
        {"name": "employee_id", "match": "EMP-004211", "regex": r"EMP-\d{6}", "action": "ANONYMIZED", "detected": True}]
    # A wrong マイナンバー check digit, a non-Luhn card and an invalid IP are not PII.
    out = apply(runtime, gid, "番号 1234 5678 9017 と 4111 1111 1111 1112、999.10.10.10")
    assert out["action"] == "NONE"


def test_names_by_ner_en_ja(control: Any, runtime: Any) -> None:
    gid = create(control, "names-ner", sensitiveInformationPolicyConfig={"piiEntitiesConfig": [
        {"type": "NAME", "action": "ANONYMIZE", "outputAction": "BLOCK"}, {"type": "EMAIL", "action": "ANONYMIZE"}]})["guardrailId"]
    out = apply(runtime, gid, "山田太郎さんから佐藤花子さんへの連絡です。")
    assert out["outputs"] == [{"text": "{NAME}さんから{NAME}さんへの連絡です。"}]
    out = apply(runtime, gid, "John Smith asked Mary Johnson to email bob@example.com.")
    assert out["outputs"] == [{"text": "{NAME} asked {NAME} to email {EMAIL}."}]
    assert apply(runtime, gid, "Ask John Smith.", source="OUTPUT")["outputs"] == [{"text": BLOCKED_OUT}]
    for text in ("今日はいい天気ですね。", "The weather in Paris is nice today."):
        assert apply(runtime, gid, text)["action"] == "NONE", text


def test_pii_blocking_and_multiple_blocks(control: Any, runtime: Any) -> None:
    gid = create(control, "pii-block", sensitiveInformationPolicyConfig=PII_POLICY)["guardrailId"]
    out = apply(runtime, gid, ["hello", "my card is 4111-1111-1111-1111"])
    assert out["action"] == "GUARDRAIL_INTERVENED" and out["outputs"] == [{"text": BLOCKED_IN}]
    assert out["actionReason"] == "Guardrail blocked."
    for text in ("SSN 123-45-6789", "key AKIAIOSFODNN7EXAMPLE"):
        assert apply(runtime, gid, text)["outputs"] == [{"text": BLOCKED_IN}]
    out = apply(runtime, gid, ["IBAN GB82 WEST 1234 5698 7654 32", "fine"])
    assert out["outputs"] == [{"text": "IBAN {INTERNATIONAL_BANK_ACCOUNT_NUMBER}"}, {"text": "fine"}]
    coverage = out["guardrailCoverage"]["textCharacters"]
    assert coverage == {"guarded": 36, "total": 36}
    usage = out["usage"]
    assert usage["sensitiveInformationPolicyFreeUnits"] == 2 and usage["sensitiveInformationPolicyUnits"] == 2
    assert usage["topicPolicyUnits"] == 0 and usage["wordPolicyUnits"] == 0
    metrics = out["assessments"][0]["invocationMetrics"]
    assert metrics["usage"] == usage and metrics["guardrailProcessingLatency"] >= 0
    assert out["assessments"][0]["appliedGuardrailDetails"]["guardrailId"] == gid


def test_denied_topics_semantic_en_ja(control: Any, runtime: Any) -> None:
    gid = create(control, "topics", topicPolicyConfig={"topicsConfig": [INVESTMENT]})["guardrailId"]
    for text in ("Should I put my savings into Tesla shares or an index fund?", "老後のためにどのETFに投資すればいいですか",
                 "Hi! Tell me a stock that will double in value soon."):
        out = apply(runtime, gid, text)
        assert out["action"] == "GUARDRAIL_INTERVENED", text
        assert out["assessments"][0]["topicPolicy"]["topics"] == [
            {"name": "investment-advice", "type": "DENY", "action": "BLOCKED", "detected": True}]
    # Same words, other topic: not substring matching.
    for text in ("The soup stock needs two hours of simmering.", "銀行の窓口は何時まで開いていますか", "今日の東京の天気は？"):
        assert apply(runtime, gid, text)["action"] == "NONE", text
    full = apply(runtime, gid, "今日の東京の天気は？", outputScope="FULL")
    assert full["assessments"][0]["topicPolicy"]["topics"] == [
        {"name": "investment-advice", "type": "DENY", "action": "NONE", "detected": False}]
    assert full["usage"]["topicPolicyUnits"] == 1


def test_long_text_is_checked_to_the_end_and_oversized_text_refused(control: Any, runtime: Any) -> None:
    gid = create(control, "long-topics", topicPolicyConfig={"topicsConfig": [INVESTMENT]},
                 wordPolicyConfig={"wordsConfig": [{"text": "endmarker"}]})["guardrailId"]
    filler = " ".join(f"Meeting note {i}: the projector in room {i} works fine." for i in range(200))
    out = apply(runtime, gid, filler + " Which stocks should I buy this year to get rich?")
    assert out["assessments"][0]["topicPolicy"]["topics"][0]["detected"] is True
    assert apply(runtime, gid, filler)["action"] == "NONE"
    with pytest.raises(ClientError) as excinfo:
        apply(runtime, gid, ["x" * 60_000, "y" * 40_001])
    code, _, message = error_of(excinfo)
    assert code == "ValidationException" and "at most 100,000 characters" in message


def test_input_and_output_directions(control: Any, runtime: Any) -> None:
    gid = create(control, "directions",
                 topicPolicyConfig={"topicsConfig": [{**INVESTMENT, "inputEnabled": False}]},
                 sensitiveInformationPolicyConfig={"piiEntitiesConfig": [
                     {"type": "EMAIL", "action": "BLOCK", "inputAction": "ANONYMIZE", "outputAction": "BLOCK"}]})["guardrailId"]
    text = "Which stocks should I buy? Reply to me@example.com"
    inbound = apply(runtime, gid, text)
    assert inbound["outputs"] == [{"text": "Which stocks should I buy? Reply to {EMAIL}"}]
    assert "topicPolicy" not in inbound["assessments"][0]
    outbound = apply(runtime, gid, text, source="OUTPUT")
    assert outbound["outputs"] == [{"text": BLOCKED_OUT}]
    assert outbound["assessments"][0]["topicPolicy"]["topics"][0]["detected"] is True


def test_apply_bad_input(control: Any, runtime: Any, guard_server: ServerProcess) -> None:
    gid = create(control, "apply-bad", wordPolicyConfig={"wordsConfig": [{"text": "a"}]})["guardrailId"]
    unchecked_runtime = boto3.client("bedrock-runtime", endpoint_url=guard_server.url,
                                     config=Config(parameter_validation=False, retries={"total_max_attempts": 1}))
    for params, words in (({"source": "SIDEWAYS", "content": []}, "Member must satisfy enum value set: [INPUT, OUTPUT]"),
                          ({"source": "INPUT"}, "Value null at 'content' failed to satisfy constraint: Member must not be null"),
                          ({"source": "INPUT", "content": [{"image": {"format": "png", "source": {"bytes": b"GIF89a"}}}]},
                           "not a png image")):
        with pytest.raises(ClientError) as excinfo:
            unchecked_runtime.apply_guardrail(guardrailIdentifier=gid, guardrailVersion="DRAFT", **params)
        code, status, message = error_of(excinfo)
        assert (code, status) == ("ValidationException", 400) and words in message, message
    # Grounding material is not guarded text: counted in the total, not in the guarded characters.
    out = runtime.apply_guardrail(guardrailIdentifier=gid, guardrailVersion="DRAFT", source="INPUT", content=[
        {"text": {"text": "a source", "qualifiers": ["grounding_source"]}}, {"text": {"text": "hello"}}])
    assert out["action"] == "NONE" and out["guardrailCoverage"]["textCharacters"] == {"guarded": 5, "total": 13}


# --- permissions ----------------------------------------------------------------------------------
def test_key_permissions_apply_to_guardrail_operations(tmp_path: Path) -> None:
    """`bedrock:CreateGuardrail` and friends are IAM actions like the runtime's: a read-only key reads."""
    from outcrop.config import Settings
    from outcrop.server.app import build_app
    from servers import ThreadServer

    (tmp_path / "auth.toml").write_text(
        '[[access_keys]]\nname = "admin"\naccess_key_id = "AKIDGUARDADMIN"\nsecret_access_key = "admin-secret"\n\n'
        '[[access_keys]]\nname = "reader"\naccess_key_id = "AKIDGUARDREAD"\nsecret_access_key = "reader-secret"\n'
        'actions = ["bedrock:GetGuardrail", "bedrock:ListGuardrails", "bedrock:ApplyGuardrail"]\n')
    settings = Settings.from_env(profile="test", auth_file=tmp_path / "auth.toml", data_dir=tmp_path / "data")
    with ThreadServer(build_app(settings)) as server:
        def client(service: str, key: str, secret: str) -> Any:
            return boto3.client(service, endpoint_url=server.url, aws_access_key_id=key, aws_secret_access_key=secret,
                                config=Config(retries={"total_max_attempts": 1}))

        admin = client("bedrock", "AKIDGUARDADMIN", "admin-secret")
        reader = client("bedrock", "AKIDGUARDREAD", "reader-secret")
        gid = create(admin, "guarded", wordPolicyConfig={"wordsConfig": [{"text": "x"}]})["guardrailId"]
        assert reader.get_guardrail(guardrailIdentifier=gid)["name"] == "guarded"
        assert [g["id"] for g in reader.list_guardrails()["guardrails"]] == [gid]
        assert apply(client("bedrock-runtime", "AKIDGUARDREAD", "reader-secret"), gid, "x")["action"] == "GUARDRAIL_INTERVENED"
        for call, action in ((lambda: create(reader, "mine", wordPolicyConfig={"wordsConfig": [{"text": "x"}]}), "CreateGuardrail"),
                             (lambda: reader.delete_guardrail(guardrailIdentifier=gid), "DeleteGuardrail"),
                             (lambda: reader.create_guardrail_version(guardrailIdentifier=gid), "CreateGuardrailVersion")):
            with pytest.raises(ClientError) as excinfo:
                call()
            code, status, message = error_of(excinfo)
            assert (code, status) == ("AccessDeniedException", 403) and f"bedrock:{action}" in message
        assert admin.get_guardrail(guardrailIdentifier=gid)["version"] == "DRAFT"  # nothing was deleted


# --- the SDK ------------------------------------------------------------------------------------------
def test_sdk_check(control: Any, guard_server: ServerProcess) -> None:
    from outcrop import MultimodalAssistant
    from outcrop.sdk import ResourceNotFoundError

    assistant = MultimodalAssistant(endpoint_url=guard_server.url, region="us-east-1")
    gid = create(control, "sdk-check", wordPolicyConfig={"wordsConfig": [{"text": "project heron"}]},
                 sensitiveInformationPolicyConfig={"piiEntitiesConfig": [{"type": "EMAIL", "action": "ANONYMIZE"}]})["guardrailId"]
    blocked = assistant.check("Tell me about Project Heron.", guardrail=gid)
    assert blocked.intervened and blocked.outputs == [BLOCKED_IN] and blocked.request_id
    assert blocked.assessments[0]["wordPolicy"]["customWords"][0]["match"].lower() == "project heron"
    masked = assistant.check("write to taro@example.com", guardrail=gid, source="OUTPUT")
    assert masked.intervened and masked.outputs == ["write to {EMAIL}"]
    version = control.create_guardrail_version(guardrailIdentifier=gid)["version"]
    clean = assistant.check("a red car", guardrail=f"{gid}:{version}")
    assert not clean.intervened and clean.action == "NONE" and clean.version == version
    with pytest.raises(ResourceNotFoundError) as missing:
        assistant.check("a red car", guardrail="zzzzzzzzzzzz", version="1")
    assert missing.value.status == 404 and missing.value.request_id


# --- persistence --------------------------------------------------------------------------------------
# Last in the module: it stops the module's server, so no test may follow it.
def test_restart_keeps_guardrails(control: Any, guard_server: ServerProcess, data_dir: Path) -> None:
    gid = create(control, "durable", wordPolicyConfig={"wordsConfig": [{"text": "keepme"}]})["guardrailId"]
    control.create_guardrail_version(guardrailIdentifier=gid)
    guard_server.stop()
    restarted = _start(data_dir, data_dir.parent / "guard-server-2.log")
    try:
        again = boto3.client("bedrock", endpoint_url=restarted.url)
        assert again.get_guardrail(guardrailIdentifier=gid, guardrailVersion="1")["name"] == "durable"
        out = apply(boto3.client("bedrock-runtime", endpoint_url=restarted.url), gid, "keepme", version="1")
        assert out["action"] == "GUARDRAIL_INTERVENED"
    finally:
        restarted.stop()

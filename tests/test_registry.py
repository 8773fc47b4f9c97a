"""The model table: Bedrock's many spellings of one model id, profile tables, `--models` overrides, and
what the server answers for ids it does not serve."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from outcrop.config import Settings
from outcrop.errors import INVALID_MODEL_ID, ValidationException
from outcrop.registry import load_model_table
from outcrop.registry.aliases import validate_model_id
from outcrop.runtime import Runtime

MODEL = "amazon.titan-embed-image-v1"

SPELLINGS = [
    MODEL,
    f"{MODEL}:0",
    f"us.{MODEL}",
    f"eu.{MODEL}",
    f"apac.{MODEL}",
    f"global.{MODEL}",
    f"us.{MODEL}:0",
    f"arn:aws:bedrock:us-east-1::foundation-model/{MODEL}",
    f"arn:aws:bedrock:eu-central-1::foundation-model/{MODEL}:0",
    f"arn:aws:bedrock:us-east-1:123456789012:inference-profile/us.{MODEL}",
    f"arn:aws:bedrock:ap-northeast-1:123456789012:inference-profile/apac.{MODEL}",
    f"arn:aws:bedrock:us-west-2:123456789012:inference-profile/global.{MODEL}",
]


@pytest.mark.parametrize("model_id", SPELLINGS)
def test_spellings_resolve_to_the_entry(model_id: str) -> None:
    validate_model_id(model_id)
    assert load_model_table("test").resolve(model_id).model_id == MODEL


@pytest.mark.parametrize("model_id", [f"arn:aws:bedrock:us-east-1:123456789012:inference-profile/us.{MODEL}", f"global.{MODEL}:0"])
def test_spellings_over_the_wire(bedrock, model_id: str) -> None:
    response = bedrock.invoke_model(modelId=model_id, body=json.dumps({"inputText": "hello"}))
    assert len(json.loads(response["body"].read())["embedding"]) == 1024


@pytest.mark.parametrize("model_id", ["acme.unknown-model-v1", f"{MODEL}-v2", f"xx.{MODEL}", "amazon.titan-embed-text-v9:0"])
def test_unknown_id_is_bedrocks_invalid_identifier(model_id: str) -> None:
    with pytest.raises(ValidationException) as raised:
        load_model_table("test").resolve(model_id)
    assert raised.value.message == INVALID_MODEL_ID == "The provided model identifier is invalid."


def test_unknown_id_over_the_wire(bedrock_no_retry) -> None:
    with pytest.raises(bedrock_no_retry.exceptions.ValidationException) as raised:
        bedrock_no_retry.invoke_model(modelId="acme.unknown-model-v1", body=json.dumps({"inputText": "x"}))
    assert raised.value.response["Error"]["Message"] == INVALID_MODEL_ID


@pytest.mark.parametrize("model_id", ["has space", "semi;colon", "", "a" * 2049])
def test_malformed_id_gets_the_pattern_message(model_id: str) -> None:
    with pytest.raises(ValidationException) as raised:
        validate_model_id(model_id)
    assert raised.value.message.startswith(f"1 validation error detected: Value '{model_id}' at 'modelId' failed")
    assert "Member must satisfy regular expression pattern: " in raised.value.message


def test_malformed_id_over_the_wire(bedrock_no_retry) -> None:
    with pytest.raises(bedrock_no_retry.exceptions.ValidationException) as raised:
        bedrock_no_retry.invoke_model(modelId="no spaces allowed", body=json.dumps({"inputText": "x"}))
    assert "Member must satisfy regular expression pattern" in raised.value.response["Error"]["Message"]


@pytest.mark.parametrize("profile", ["test", "cpu", "gpu"])
def test_profiles_load(profile: str) -> None:
    table = load_model_table(profile)
    assert table.profile == profile
    entry = table.resolve(MODEL)
    assert (entry.protocol, entry.engine) == ("titan-embed-image", "embedding")
    if profile == "test":
        assert entry.weights.startswith("builtin:")
    else:
        assert "/" in entry.weights and not entry.weights.startswith("builtin:")


@pytest.mark.parametrize("profile", ["cpu", "gpu"])
def test_real_profiles_judge_guardrails_with_their_own_vlm(profile: str) -> None:
    """The guard judge is on by default where real weights are served, and costs no second model: it is
    an id served by the very engine the profile's chat ids share."""
    runtime = Runtime.build(Settings.from_env(profile=profile))
    judge = runtime.table.resolve(runtime.guardrail_judge_model)
    assert judge.engine == "vision-chat"
    assert judge.engine_key == runtime.table.resolve("anthropic.claude-3-haiku-20240307-v1:0").engine_key
    assert Runtime.build(Settings.from_env(profile=profile, guardrail_judge_model="")).guardrail_judge_model == ""
    assert load_model_table("test").guardrail_judge == ""
    # the judge looks at images where one image's prefill is cheap: the gpu profile
    assert runtime.table.guardrail_judge_images is (profile == "gpu")
    assert not load_model_table("test").guardrail_judge_images


def test_a_misspelt_guardrails_key_says_which(tmp_path: Path) -> None:
    path = tmp_path / "models.toml"
    path.write_text('[guardrails]\njugde = "amazon.nova-lite-v1:0"\n')
    with pytest.raises(ValueError, match=r"\[guardrails\] has unknown keys \['jugde'\]"):
        load_model_table("test", path)
    path.write_text('[guardrails]\njudge_images = "yes"\n')
    with pytest.raises(ValueError, match=r"judge_images must be true or false, not 'yes'"):
        load_model_table("test", path)


def test_models_override_replaces_an_entry_and_adds_one(tmp_path: Path) -> None:
    path = tmp_path / "models.toml"
    path.write_text(
        f'[models."{MODEL}"]\nprotocol = "titan-embed-image"\nengine = "embedding"\n'
        'weights = "/srv/weights/my-siglip"\ndevice = "cpu"\noptions = { max_batch = 3 }\n'
        '[models."acme.embed-v1"]\nprotocol = "titan-embed-image"\nengine = "embedding"\n'
        'weights = "builtin:tiny-siglip"\naliases = ["acme.embed"]\n'
    )
    base = load_model_table("test")
    table = load_model_table("test", path)
    assert set(e.model_id for e in table) == set(e.model_id for e in base) | {"acme.embed-v1"}
    entry = table.resolve(f"us.{MODEL}:0")
    assert entry.weights == "/srv/weights/my-siglip" and dict(entry.options)["max_batch"] == 3
    assert entry.dtype == "auto"  # replaced whole, not merged with the profile's entry
    assert table.resolve("acme.embed").model_id == "acme.embed-v1"


def test_models_override_with_an_unknown_key_says_which(tmp_path: Path) -> None:
    path = tmp_path / "models.toml"
    path.write_text(f'[models."{MODEL}"]\nprotocol = "titan-embed-image"\nengine = "embedding"\nweights = "x"\nwieghts = "y"\n')
    with pytest.raises(ValueError, match=r"unknown keys \['wieghts'\]"):
        load_model_table("test", path)


def test_engine_specs_are_shared_with_uses(tmp_path: Path) -> None:
    """`[engines.NAME]` holds one engine spec; entries `use` it, overriding keys and merging options,
    and entries that use the same spec share one engine."""
    path = tmp_path / "models.toml"
    path.write_text(
        '[engines."mine"]\nengine = "embedding"\nweights = "builtin:tiny-siglip"\ndevice = "cpu"\n'
        '[engines."mine".options]\nmax_batch = 4\nmax_queue = 9\n\n'
        '[models."amazon.titan-embed-image-v1"]\nprotocol = "titan-embed-image"\nuses = "mine"\n\n'
        '[models."acme.embed-v1"]\nprotocol = "titan-embed-image"\nuses = "mine"\noptions = { max_batch = 2 }\n\n'
        '[models."acme.embed-v2"]\nprotocol = "titan-embed-image"\nuses = "embeddings"\n'  # the profile's own spec
    )
    table = load_model_table("test", path)
    first, second = table.resolve("amazon.titan-embed-image-v1"), table.resolve("acme.embed-v1")
    assert first.engine == "embedding" and dict(first.options)["max_batch"] == 4 and dict(first.options)["max_queue"] == 9
    assert dict(second.options)["max_batch"] == 2 and dict(second.options)["max_queue"] == 9
    assert table.resolve("acme.embed-v2").engine_key == load_model_table("test").resolve("amazon.titan-embed-image-v1").engine_key
    assert first.engine_key != second.engine_key


def test_unknown_engine_spec_says_which(tmp_path: Path) -> None:
    path = tmp_path / "models.toml"
    path.write_text('[models."acme.embed-v1"]\nprotocol = "titan-embed-image"\nuses = "nope"\n')
    with pytest.raises(ValueError, match="unknown engine spec 'nope'"):
        load_model_table("test", path)


def test_options_are_declared_and_checked_at_start(tmp_path: Path) -> None:
    """A misspelt or mistyped engine or protocol option stops `outcrop serve` with the entry and the name."""
    import subprocess
    import sys

    cases = {
        '[models."acme.embed-v1"]\nprotocol = "titan-embed-image"\nuses = "embeddings"\noptions = { max_bacth = 2 }\n':
            "unknown option 'max_bacth'",
        '[models."acme.embed-v1"]\nprotocol = "titan-embed-image"\nuses = "embeddings"\noptions = { max_batch = "many" }\n':
            "option 'max_batch'",
        '[models."acme.chat-v1"]\nprotocol = "converse"\nuses = "vision"\nprotocol_options = { json_from_promt = false }\n':
            "unknown option 'json_from_promt'",
    }
    for i, (text, expected) in enumerate(cases.items()):
        path = tmp_path / f"models-{i}.toml"
        path.write_text(text)
        done = subprocess.run([sys.executable, "-m", "outcrop", "serve", "--profile", "test", "--models", str(path),
                               "--port", "0"], capture_output=True, text=True, timeout=120)
        assert done.returncode == 1, done.stderr
        assert expected in done.stderr and "acme." in done.stderr and str(path) in done.stderr
        assert "Traceback" not in done.stderr


def test_protocol_options_never_load_a_second_engine(tmp_path: Path) -> None:
    path = tmp_path / "models.toml"
    path.write_text('[models."acme.chat-v1"]\nprotocol = "converse"\nuses = "vision"\nprotocol_options = { json_from_prompt = false }\n')
    table = load_model_table("test", path)
    plain, tuned = table.resolve("amazon.nova-lite-v1:0"), table.resolve("acme.chat-v1")
    assert plain.engine_key == tuned.engine_key and dict(tuned.protocol_options) == {"json_from_prompt": False}

"""`outcrop guard`: guardrails against an endpoint (outcrop or AWS) through boto3's `bedrock` client
(create, list, get, delete: the control plane, which the SDK does not cover) and the SDK's `check`
(ApplyGuardrail on text and images)."""

from __future__ import annotations

import argparse
import json
import os
import sys
from pathlib import Path
from typing import Any

DEFAULT_ENDPOINT = "http://127.0.0.1:8080"


def register(subparsers: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    parser = subparsers.add_parser(
        "guard", help="create, list, inspect, delete and check guardrails",
        description="Guardrails through the bedrock and bedrock-runtime APIs of an endpoint. The endpoint is "
        "--endpoint, else AWS_ENDPOINT_URL_BEDROCK, else " + DEFAULT_ENDPOINT + ".",
    )
    parser.add_argument("--endpoint", default=None, help="base URL of the server.")
    parser.add_argument("--region", default=None, help="signing region. Default: AWS_REGION or us-east-1.")
    parser.add_argument("--json", action="store_true", help="print the API's JSON response.")
    commands = parser.add_subparsers(dest="guard_command", metavar="SUBCOMMAND", required=True)

    create = commands.add_parser("create", help="CreateGuardrail from a JSON, TOML or YAML file in its shape")
    create.add_argument("file", type=Path)
    create.set_defaults(func=_create)

    listing = commands.add_parser("list", help="ListGuardrails (every DRAFT, or the versions of --guardrail)")
    listing.add_argument("--guardrail", default=None, metavar="ID")
    listing.set_defaults(func=_list)

    get = commands.add_parser("get", help="GetGuardrail")
    get.add_argument("guardrail", metavar="ID[:VERSION]")
    get.set_defaults(func=_get)

    delete = commands.add_parser("delete", help="DeleteGuardrail (a whole guardrail, or ID:VERSION)")
    delete.add_argument("guardrail", metavar="ID[:VERSION]")
    delete.set_defaults(func=_delete)

    check = commands.add_parser("check", help="ApplyGuardrail to text and images")
    check.add_argument("--guardrail", required=True, metavar="ID[:VERSION]", help="version defaults to DRAFT.")
    check.add_argument("text", nargs="?", default=None)
    check.add_argument("--image", type=Path, action="append", default=[], metavar="FILE", help="png or jpeg (repeatable).")
    check.add_argument("--source", choices=("input", "output"), default="input")
    check.add_argument("--full", action="store_true", help="outputScope FULL: every assessment, not only interventions.")
    check.set_defaults(func=_check)


def _client(args: argparse.Namespace, service: str) -> Any:
    import boto3

    endpoint = (args.endpoint or os.environ.get(f"AWS_ENDPOINT_URL_{service.upper().replace('-', '_')}")
                or os.environ.get("AWS_ENDPOINT_URL") or DEFAULT_ENDPOINT)
    region = args.region or os.environ.get("AWS_REGION") or os.environ.get("AWS_DEFAULT_REGION") or "us-east-1"
    session = boto3.session.Session()
    if session.get_credentials() is None:  # a local server without keys still needs a signature
        session = boto3.session.Session(aws_access_key_id="outcrop", aws_secret_access_key="outcrop")
    return session.client(service, endpoint_url=endpoint, region_name=region)


def _split(identifier: str) -> tuple[str, str | None]:
    """ID[:VERSION] or ARN[:VERSION]: the version follows the last colon after the id."""
    head, slash, tail = identifier.rpartition("/")
    guardrail, _, version = tail.partition(":")
    return head + slash + guardrail, version or None


def _print(args: argparse.Namespace, response: dict[str, Any], text: str) -> None:
    response = {k: v for k, v in response.items() if k != "ResponseMetadata"}
    print(json.dumps(response, ensure_ascii=False, indent=2, default=str) if args.json else text)


def _run(call: Any) -> Any:
    from botocore.exceptions import BotoCoreError, ClientError

    from outcrop.cli import CliError

    try:
        return call()
    except ClientError as exc:
        error = exc.response.get("Error", {})
        raise CliError(f"{error.get('Code', 'Error')}: {error.get('Message', exc)}") from None
    except BotoCoreError as exc:
        raise CliError(str(exc)) from None


def _read_spec(path: Path) -> dict[str, Any]:
    from outcrop.cli import CliError

    try:
        text = path.read_text("utf-8")
        if path.suffix.lower() == ".toml":
            import tomllib

            document = tomllib.loads(text)
        elif path.suffix.lower() in (".yaml", ".yml"):
            import yaml

            document = yaml.safe_load(text)
        else:
            document = json.loads(text)
    except Exception as exc:  # any parse failure is the user's file: one line, no traceback
        raise CliError(f"{path}: {exc}") from None
    if not isinstance(document, dict):
        raise CliError(f"{path}: expected one guardrail (an object in the CreateGuardrail shape).")
    return document


def _create(args: argparse.Namespace) -> int:
    spec = _read_spec(args.file)
    response = _run(lambda: _client(args, "bedrock").create_guardrail(**spec))
    _print(args, response, f"{response['guardrailId']}\t{response['version']}\t{response['guardrailArn']}")
    return 0


def _list(args: argparse.Namespace) -> int:
    client = _client(args, "bedrock")
    extra = {"guardrailIdentifier": args.guardrail} if args.guardrail else {}
    items: list[dict[str, Any]] = []
    page = _run(lambda: client.list_guardrails(**extra))
    items += page["guardrails"]
    while page.get("nextToken"):
        more = {**extra, "nextToken": page["nextToken"]}
        page = _run(lambda: client.list_guardrails(**more))  # noqa: B023 -- called at once, inside this turn
        items += page["guardrails"]
    lines = [f"{g['id']}\t{g['version']}\t{g['status']}\t{g['name']}" for g in items]
    _print(args, {"guardrails": items}, "\n".join(lines) if lines else "(no guardrails)")
    return 0


def _get(args: argparse.Namespace) -> int:
    guardrail, version = _split(args.guardrail)
    extra = {"guardrailVersion": version} if version else {}
    response = _run(lambda: _client(args, "bedrock").get_guardrail(guardrailIdentifier=guardrail, **extra))
    policies = [k for k in response if k.endswith("Policy")]
    _print(args, response, f"{response['guardrailId']}\t{response['version']}\t{response['status']}\t"
           f"{response['name']}\t{','.join(policies) or '-'}")
    return 0


def _delete(args: argparse.Namespace) -> int:
    guardrail, version = _split(args.guardrail)
    extra = {"guardrailVersion": version} if version else {}
    response = _run(lambda: _client(args, "bedrock").delete_guardrail(guardrailIdentifier=guardrail, **extra))
    _print(args, response, f"deleted {args.guardrail}")
    return 0


def _check(args: argparse.Namespace) -> int:
    """The SDK's `check` (ApplyGuardrail) over this endpoint's bedrock-runtime client."""
    from botocore.exceptions import BotoCoreError

    from outcrop.cli import CliError
    from outcrop.sdk import BedrockServiceError, MultimodalAssistant

    guardrail, version = _split(args.guardrail)
    text = sys.stdin.read() if args.text == "-" else args.text
    images: list[bytes] = []
    for path in args.image:
        try:
            data = path.read_bytes()
        except OSError as exc:
            raise CliError(f"{path}: {exc.strerror}") from None
        if not (data.startswith(b"\x89PNG") or data.startswith(b"\xff\xd8\xff")):
            raise CliError(f"{path}: not a png or jpeg image (the formats ApplyGuardrail takes).")
        images.append(data)
    if text is None and not images:
        raise CliError("give text to check, --image FILE, or both.")
    assistant = MultimodalAssistant(client=_client(args, "bedrock-runtime"))
    try:
        result = assistant.check(text, image=images, guardrail=guardrail, version=version or "DRAFT",
                                 source=args.source.upper(), full=args.full)
    except BedrockServiceError as exc:
        raise CliError(f"{exc.code}: {exc.message}") from None
    except BotoCoreError as exc:
        raise CliError(str(exc)) from None
    response = result.response
    findings = []
    for assessment in response.get("assessments", []):
        for f in assessment.get("contentPolicy", {}).get("filters", []):
            findings.append(f"content {f['type']} {f['confidence']} {f['action']}")
        for t in assessment.get("topicPolicy", {}).get("topics", []):
            findings.append(f"topic {t['name']} {t['action']}")
        words = assessment.get("wordPolicy", {})
        findings += [f"word {w['match']} {w['action']}" for w in words.get("customWords", []) + words.get("managedWordLists", [])]
        pii = assessment.get("sensitiveInformationPolicy", {})
        findings += [f"pii {p['type']} {p['action']}" for p in pii.get("piiEntities", [])]
        findings += [f"regex {r['name']} {r['action']}" for r in pii.get("regexes", [])]
        for g in assessment.get("contextualGroundingPolicy", {}).get("filters", []):
            findings.append(f"grounding {g['type']} {g['score']} < {g['threshold']}: {g['action']}")
    outputs = "\n".join(o.get("text", "") for o in response.get("outputs", []))
    text = "\n".join([response["action"], *findings, *([outputs] if outputs else [])])
    _print(args, response, text)
    return 3 if response["action"] == "GUARDRAIL_INTERVENED" else 0

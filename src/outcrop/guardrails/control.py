"""The guardrail operations of the `bedrock` control plane over the store: CreateGuardrail,
GetGuardrail, ListGuardrails, UpdateGuardrail, DeleteGuardrail, CreateGuardrailVersion.

Guardrails are evaluated in this process, so every change is immediate: status is always READY.
Refusals carry Bedrock's exception types (ValidationException, ConflictException,
ResourceNotFoundException) and the AWS validation wording."""

from __future__ import annotations

import hashlib
import json
import secrets
import sqlite3
import string
from dataclasses import replace
from datetime import UTC, datetime
from typing import Any

from outcrop.errors import AccessDeniedException, ConflictException, ResourceNotFoundException, ValidationException
from outcrop.guardrails import regexes
from outcrop.guardrails.store import GuardrailStore, StoredGuardrail
from outcrop.guardrails.wire import (
    GUARDRAIL_IDENTIFIER,
    GUARDRAIL_VERSION,
    NUMERICAL_VERSION,
    CreateGuardrailRequest,
    CreateGuardrailVersionRequest,
    GuardrailSpec,
    check_pattern,
    constraint_error,
)

# A local server has no AWS account; ARNs need twelve digits, so they use this one.
ACCOUNT_ID = "000000000000"
DEFAULT_REGION = "us-east-1"
POLICY_FIELDS = ("topicPolicyConfig", "contentPolicyConfig", "wordPolicyConfig", "sensitiveInformationPolicyConfig",
                 "contextualGroundingPolicyConfig", "automatedReasoningPolicyConfig")
# Policies this server cannot evaluate yet: refused at creation rather than stored and silently ignored.
UNSUPPORTED_POLICIES = {
    "automatedReasoningPolicyConfig": "automated reasoning checks",
}
# PII types with no recognizer here: refused, not silently unmatched (none today; kept for new types).
UNSUPPORTED_PII: frozenset[str] = frozenset()
# Get/List responses name each policy's lists without the `Config` suffix.
_RESPONSE_NAMES = {"topicPolicyConfig": "topicPolicy", "contentPolicyConfig": "contentPolicy",
                   "wordPolicyConfig": "wordPolicy", "sensitiveInformationPolicyConfig": "sensitiveInformationPolicy",
                   "contextualGroundingPolicyConfig": "contextualGroundingPolicy",
                   "automatedReasoningPolicyConfig": "automatedReasoningPolicy"}
_LIST_NAMES = {"topicsConfig": "topics", "filtersConfig": "filters", "wordsConfig": "words",
               "managedWordListsConfig": "managedWordLists", "piiEntitiesConfig": "piiEntities",
               "regexesConfig": "regexes", "tierConfig": "tier"}


def now() -> str:
    return datetime.now(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def new_id() -> str:
    alphabet = string.ascii_lowercase + string.digits
    return "".join(secrets.choice(alphabet) for _ in range(12))


def arn_of(guardrail_id: str, region: str) -> str:
    return f"arn:aws:bedrock:{region}:{ACCOUNT_ID}:guardrail/{guardrail_id}"


def parse_identifier(identifier: str, path: str = "guardrailIdentifier") -> str:
    """The guardrail id of an id or an ARN, after the model's pattern check."""
    check_pattern(identifier, path, GUARDRAIL_IDENTIFIER)
    return identifier.rsplit("/", 1)[-1]


def check_version(version: str | None, path: str = "guardrailVersion", numerical: bool = False) -> None:
    check_pattern(version, path, NUMERICAL_VERSION if numerical else GUARDRAIL_VERSION)


def not_found(identifier: str, version: str | None = None) -> ResourceNotFoundException:
    if version is None or version == "DRAFT":
        return ResourceNotFoundException(f"The guardrail with identifier {identifier} was not found.")
    return ResourceNotFoundException(f"The guardrail with identifier {identifier} and version {version} was not found.")


def check_spec(spec: GuardrailSpec) -> None:
    """What Bedrock refuses beyond the shapes: no policy at all, unusable regexes; and what this
    server cannot enforce, said plainly instead of stored and ignored."""
    present = [f for f in POLICY_FIELDS if getattr(spec, f) is not None]
    words = spec.wordPolicyConfig
    if words is not None and not words.wordsConfig and not words.managedWordListsConfig:
        present.remove("wordPolicyConfig")
    pii = spec.sensitiveInformationPolicyConfig
    if pii is not None and not pii.piiEntitiesConfig and not pii.regexesConfig:
        present.remove("sensitiveInformationPolicyConfig")
    if not present:
        raise ValidationException("The guardrail must have at least one policy configured. Configure a topic, "
                                  "content, word, sensitive information or contextual grounding policy and try again.")
    for name, what in UNSUPPORTED_POLICIES.items():
        if getattr(spec, name) is not None:
            raise ValidationException(f"{name}: {what} are not supported by this server. Remove {name} and try again.")
    if pii is not None and pii.piiEntitiesConfig:
        seen: set[str] = set()
        for entity in pii.piiEntitiesConfig:
            if entity.type in UNSUPPORTED_PII:
                raise ValidationException(f"The PII entity type {entity.type} is not supported by this server. "
                                          "Remove it or use a regex instead.")
            if entity.type in seen:
                raise ValidationException(f"The PII entity type {entity.type} is configured more than once.")
            seen.add(entity.type)
    for i, regex in enumerate(pii.regexesConfig or [] if pii else []):
        problem = regexes.check(regex.pattern)
        if problem:
            raise constraint_error(regex.pattern, f"sensitiveInformationPolicyConfig.regexesConfig.{i + 1}.member.pattern",
                                   problem)
    _check_content(spec)
    if spec.topicPolicyConfig:
        names = [t.name.lower() for t in spec.topicPolicyConfig.topicsConfig]
        if len(set(names)) != len(names):
            raise ValidationException("Each denied topic of a guardrail must have a unique name.")


def _check_content(spec: GuardrailSpec) -> None:
    """Content and grounding filters: one of each type; prompt attacks are assessed on input only,
    so Bedrock wants PROMPT_ATTACK's output strength NONE."""
    if spec.contentPolicyConfig is not None:
        types = [f.type for f in spec.contentPolicyConfig.filtersConfig]
        for kind in types:
            if types.count(kind) > 1:
                raise ValidationException(f"The content filter type {kind} is configured more than once. "
                                          "Configure each filter type once and try again.")
        for f in spec.contentPolicyConfig.filtersConfig:
            if f.type == "PROMPT_ATTACK" and f.outputStrength != "NONE":
                raise ValidationException("The PROMPT_ATTACK content filter only applies to input. "
                                          "Set its outputStrength to NONE and try again.")
    if spec.contextualGroundingPolicyConfig is not None:
        kinds = [f.type for f in spec.contextualGroundingPolicyConfig.filtersConfig]
        for kind in kinds:
            if kinds.count(kind) > 1:
                raise ValidationException(f"The contextual grounding filter type {kind} is configured more than "
                                          "once. Configure each filter type once and try again.")


def _spec_json(spec: GuardrailSpec) -> dict[str, Any]:
    return spec.model_dump(exclude_none=True, include=set(GuardrailSpec.model_fields))


def _request_hash(document: dict[str, Any]) -> str:
    return hashlib.sha256(json.dumps(document, sort_keys=True).encode()).hexdigest()


def _replay(db: sqlite3.Connection, token: str | None, operation: str, request_hash: str) -> dict[str, Any] | None:
    """The first answer to a retried call with the same client token; ConflictException for another request."""
    if token is None:
        return None
    row = db.execute("SELECT request_hash, response FROM tokens WHERE token = ? AND operation = ?",
                     (token, operation)).fetchone()
    if row is None:
        return None
    if row[0] != request_hash:
        raise ConflictException("The client request token was already used for a different request. "
                                "Use a new clientRequestToken and try again.")
    return json.loads(row[1])  # type: ignore[no-any-return]


def _remember(db: sqlite3.Connection, token: str | None, operation: str, request_hash: str, response: dict[str, Any]) -> None:
    if token is not None:
        db.execute("INSERT INTO tokens VALUES (?, ?, ?, ?)", (token, operation, request_hash, json.dumps(response)))


def read_only(guardrail_id: str, action: str) -> AccessDeniedException:
    return AccessDeniedException(f"You are not authorized to perform: bedrock:{action} on the guardrail {guardrail_id}: "
                                 "it is loaded from the server's --guardrails file and is read-only. Change the "
                                 "file and restart the server.")


class GuardrailControl:
    """The control plane over the store, plus the operator's read-only guardrails (--guardrails)."""

    def __init__(self, store: GuardrailStore, operator: dict[str, StoredGuardrail] | None = None) -> None:
        self.store = store
        self.operator = operator or {}
        self._operator_names = {g.spec["name"] for g in self.operator.values()}

    def _check_name(self, name: str) -> None:
        if name in self._operator_names:
            raise ConflictException(f"A guardrail with the name {name} already exists. "
                                    "Choose a different name and try again.")

    def _writable(self, guardrail_id: str, action: str) -> None:
        if guardrail_id in self.operator:
            raise read_only(guardrail_id, action)

    def create(self, request: CreateGuardrailRequest, region: str) -> dict[str, Any]:
        check_spec(request)
        self._check_name(request.name)
        spec = _spec_json(request)
        request_hash = _request_hash({**spec, "tags": [t.model_dump() for t in request.tags or []]})
        with self.store.write() as db:
            replay = _replay(db, request.clientRequestToken, "CreateGuardrail", request_hash)
            if replay is not None:
                return replay
            if db.execute("SELECT 1 FROM guardrails WHERE name = ?", (request.name,)).fetchone():
                raise ConflictException(f"A guardrail with the name {request.name} already exists. "
                                        "Choose a different name and try again.")
            guardrail_id, stamp = new_id(), now()
            while db.execute("SELECT 1 FROM guardrails WHERE id = ?", (guardrail_id,)).fetchone():
                guardrail_id = new_id()
            arn = arn_of(guardrail_id, region)
            db.execute("INSERT INTO guardrails (id, arn, name, draft, created_at, updated_at, tags) VALUES (?, ?, ?, ?, ?, ?, ?)",
                       (guardrail_id, arn, request.name, json.dumps(spec), stamp, stamp,
                        json.dumps([t.model_dump() for t in request.tags or []])))
            response = {"guardrailId": guardrail_id, "guardrailArn": arn, "version": "DRAFT", "createdAt": stamp}
            _remember(db, request.clientRequestToken, "CreateGuardrail", request_hash, response)
        return response

    def update(self, identifier: str, spec: GuardrailSpec) -> dict[str, Any]:
        guardrail_id = parse_identifier(identifier)
        self._writable(guardrail_id, "UpdateGuardrail")
        check_spec(spec)
        self._check_name(spec.name)
        document = _spec_json(spec)
        with self.store.write() as db:
            row = GuardrailStore.row_of(db, guardrail_id)
            if row is None:
                raise not_found(identifier)
            clash = db.execute("SELECT 1 FROM guardrails WHERE name = ? AND id != ?", (spec.name, guardrail_id)).fetchone()
            if clash:
                raise ConflictException(f"A guardrail with the name {spec.name} already exists. "
                                        "Choose a different name and try again.")
            stamp = now()
            db.execute("UPDATE guardrails SET name = ?, draft = ?, updated_at = ? WHERE id = ?",
                       (spec.name, json.dumps(document), stamp, guardrail_id))
        return {"guardrailId": guardrail_id, "guardrailArn": row[1], "version": "DRAFT", "updatedAt": stamp}

    def create_version(self, identifier: str, request: CreateGuardrailVersionRequest) -> dict[str, Any]:
        guardrail_id = parse_identifier(identifier)
        self._writable(guardrail_id, "CreateGuardrailVersion")
        request_hash = _request_hash({"id": guardrail_id, "description": request.description})
        with self.store.write() as db:
            replay = _replay(db, request.clientRequestToken, "CreateGuardrailVersion", request_hash)
            if replay is not None:
                return replay
            row = GuardrailStore.row_of(db, guardrail_id)
            if row is None:
                raise not_found(identifier)
            version = int(row[6])
            db.execute("INSERT INTO versions (id, version, spec, description, created_at) VALUES (?, ?, ?, ?, ?)",
                       (guardrail_id, version, row[3], request.description, now()))
            db.execute("UPDATE guardrails SET next_version = ? WHERE id = ?", (version + 1, guardrail_id))
            response = {"guardrailId": guardrail_id, "version": str(version)}
            _remember(db, request.clientRequestToken, "CreateGuardrailVersion", request_hash, response)
        return response

    def delete(self, identifier: str, version: str | None) -> dict[str, Any]:
        guardrail_id = parse_identifier(identifier)
        check_version(version, numerical=True)
        self._writable(guardrail_id, "DeleteGuardrail")
        with self.store.write() as db:
            if GuardrailStore.row_of(db, guardrail_id) is None:
                raise not_found(identifier, version)
            if version is None:
                db.execute("DELETE FROM versions WHERE id = ?", (guardrail_id,))
                db.execute("DELETE FROM guardrails WHERE id = ?", (guardrail_id,))
            elif db.execute("DELETE FROM versions WHERE id = ? AND version = ?", (guardrail_id, int(version))).rowcount == 0:
                raise not_found(identifier, version)
        return {}

    def resolve(self, identifier: str, version: str | None) -> StoredGuardrail:
        """The stored guardrail an identifier and version name, or Bedrock's ResourceNotFoundException."""
        guardrail_id = parse_identifier(identifier)
        check_version(version)
        operator = self.operator.get(guardrail_id)
        if operator is not None:
            if version in (None, "DRAFT"):
                return operator
            if version == "1":
                return replace(operator, version="1")
            raise not_found(identifier, version)
        found = self.store.get(guardrail_id, version or "DRAFT")
        if found is None:
            raise not_found(identifier, version)
        return found

    def get(self, identifier: str, version: str | None) -> dict[str, Any]:
        return describe(self.resolve(identifier, version))

    def list(self, identifier: str | None, max_results: str | None, next_token: str | None) -> dict[str, Any]:
        limit = 100
        if max_results is not None:
            if not max_results.isdigit() or not 1 <= int(max_results) <= 1000:
                raise constraint_error(max_results, "maxResults", "Member must have value between 1 and 1000")
            limit = int(max_results)
        start = 0
        if next_token is not None:
            if not next_token.isdigit():
                raise ValidationException("The nextToken is not valid. Use the nextToken of a previous response.")
            start = int(next_token)
        if identifier is not None:
            guardrail_id = parse_identifier(identifier)
            operator = self.operator.get(guardrail_id)
            items = [operator, replace(operator, version="1")] if operator else self.store.versions_of(guardrail_id)
            if not items:
                raise not_found(identifier)
        else:
            items = [*self.operator.values(), *self.store.all_drafts()]
        page = items[start:start + limit]
        response: dict[str, Any] = {"guardrails": [summary(g) for g in page]}
        if start + limit < len(items):
            response["nextToken"] = str(start + limit)
        return response


def summary(g: StoredGuardrail) -> dict[str, Any]:
    out = {"id": g.id, "arn": g.arn, "status": "READY", "name": g.spec["name"], "version": g.version,
           "createdAt": g.created_at, "updatedAt": g.updated_at}
    if g.description:
        out["description"] = g.description
    return out


def _response_policy(config: dict[str, Any]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for key, value in config.items():
        if isinstance(value, list):
            value = [_with_defaults(item) if isinstance(item, dict) else item for item in value]
        out[_LIST_NAMES.get(key, key)] = value
    return out


def _with_defaults(item: dict[str, Any]) -> dict[str, Any]:
    """Per-direction actions and switches as Bedrock reports them: unset ones take their defaults."""
    out = dict(item)
    if "threshold" in item:  # contextual grounding filters have one action and one switch
        out.setdefault("action", "BLOCK")
        out.setdefault("enabled", True)
        return out
    if "inputStrength" in item:  # content filters: text unless other modalities are chosen
        out.setdefault("inputModalities", ["TEXT"])
        out.setdefault("outputModalities", ["TEXT"])
    default = item.get("action", "BLOCK")  # PII entities and regexes: `action` is both directions' default
    out.setdefault("inputAction", default)
    out.setdefault("outputAction", default)
    out.setdefault("inputEnabled", True)
    out.setdefault("outputEnabled", True)
    return out


def describe(g: StoredGuardrail) -> dict[str, Any]:
    """GetGuardrail's response for one stored version."""
    spec = g.spec
    out: dict[str, Any] = {
        "name": spec["name"], "guardrailId": g.id, "guardrailArn": g.arn, "version": g.version, "status": "READY",
        "createdAt": g.created_at, "updatedAt": g.updated_at,
        "blockedInputMessaging": spec["blockedInputMessaging"], "blockedOutputsMessaging": spec["blockedOutputsMessaging"],
    }
    if g.description:
        out["description"] = g.description
    for field, response_name in _RESPONSE_NAMES.items():
        if field in spec:
            out[response_name] = _response_policy(spec[field])
    if "crossRegionConfig" in spec:
        out["crossRegionDetails"] = {"guardrailProfileId": spec["crossRegionConfig"]["guardrailProfileIdentifier"]}
    return out

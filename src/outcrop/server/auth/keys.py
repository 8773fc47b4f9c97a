"""Who may call the server: access keys (SigV4) and Bedrock API keys (bearer), with what they may do.

Keys come from a TOML file (`--auth-file` / OUTCROP_AUTH_FILE) and/or the environment:

```toml
regions = ["us-east-1"]          # signing regions accepted; empty or absent: any region

[[access_keys]]
name = "ci"                      # shown in logs instead of any secret
access_key_id = "AKIAEXAMPLE"
secret_access_key = "..."
models = ["amazon.titan-embed-*"]          # globs over model ids; default ["*"]
actions = ["bedrock:InvokeModel"]          # IAM actions; default ["bedrock:*"]
requests_per_second = 5                    # token bucket; absent: unlimited
burst = 10
max_concurrency = 2                        # requests in flight at once; more get ThrottlingException; absent: unlimited

[[api_keys]]
name = "notebook"
token = "..."                    # or token_sha256 = "<hex digest>" to keep the token out of the file
```

Environment: `OUTCROP_ACCESS_KEYS="AKID:SECRET,AKID2:SECRET2"` and `OUTCROP_API_KEYS="tok1,tok2"` add
keys allowed everything. Permissions follow IAM: Converse is `bedrock:InvokeModel`, ConverseStream
is `bedrock:InvokeModelWithResponseStream`, ApplyGuardrail is `bedrock:ApplyGuardrail`.
"""

from __future__ import annotations

import fnmatch
import hashlib
import hmac
import os
import tomllib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from outcrop.registry.aliases import candidate_ids

ALL = ("*",)


@dataclass(frozen=True)
class Permissions:
    models: tuple[str, ...] = ALL
    actions: tuple[str, ...] = ("bedrock:*",)

    def allows_action(self, action: str) -> bool:
        return any(fnmatch.fnmatchcase(action, pattern if ":" in pattern else f"bedrock:{pattern}") for pattern in self.actions)

    def allows_model(self, model_id: str) -> bool:
        """A glob may name the id as sent or any spelling Bedrock treats as the same model."""
        spellings = candidate_ids(model_id)
        return any(fnmatch.fnmatchcase(s, pattern) for s in spellings for pattern in self.models)


@dataclass(frozen=True)
class Principal:
    """An authenticated caller: a display name (never a secret) plus what it may do."""

    name: str
    permissions: Permissions = field(default_factory=Permissions)
    requests_per_second: float | None = None
    burst: float | None = None
    max_concurrency: int | None = None


@dataclass(frozen=True)
class AccessKey:
    access_key_id: str
    secret_access_key: str
    principal: Principal
    session_token: str | None = None


@dataclass
class KeyStore:
    access_keys: dict[str, AccessKey] = field(default_factory=dict)
    # sha256(token) hex -> principal: tokens are never held in memory longer than loading takes.
    api_keys: dict[str, Principal] = field(default_factory=dict)
    regions: tuple[str, ...] = ()

    def __bool__(self) -> bool:
        return bool(self.access_keys or self.api_keys)

    def access_key(self, access_key_id: str) -> AccessKey | None:
        return self.access_keys.get(access_key_id)

    def api_key(self, token: str) -> Principal | None:
        digest = hashlib.sha256(token.encode("utf-8", "surrogateescape")).hexdigest()
        for known, principal in self.api_keys.items():
            if hmac.compare_digest(known, digest):
                return principal
        return None

    def region_allowed(self, region: str) -> bool:
        return not self.regions or region in self.regions


def _principal(spec: dict[str, Any], default_name: str) -> Principal:
    rate = spec.get("requests_per_second")
    return Principal(
        name=str(spec.get("name", default_name)),
        permissions=Permissions(
            models=tuple(spec.get("models", ALL)), actions=tuple(spec.get("actions", ("bedrock:*",)))
        ),
        requests_per_second=float(rate) if rate is not None else None,
        burst=float(spec["burst"]) if "burst" in spec else None,
        max_concurrency=_positive_int(spec.get("max_concurrency"), default_name),
    )


def _positive_int(value: Any, where: str) -> int | None:
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise ValueError(f"{where}: max_concurrency must be a whole number of at least 1, got {value!r}")
    return value


_ACCESS_FIELDS = {"name", "access_key_id", "secret_access_key", "session_token", "models", "actions", "requests_per_second", "burst",
                  "max_concurrency"}
_API_FIELDS = {"name", "token", "token_sha256", "models", "actions", "requests_per_second", "burst", "max_concurrency"}


def load_keys(path: Path | None, environ: dict[str, str] | None = None) -> KeyStore:
    """Keys from the TOML file at `path` (if any) and from OUTCROP_ACCESS_KEYS / OUTCROP_API_KEYS."""
    environ = dict(os.environ) if environ is None else environ
    store = KeyStore()
    if path is not None:
        data = tomllib.loads(Path(path).read_text(encoding="utf-8"))
        unknown = set(data) - {"regions", "access_keys", "api_keys"}
        if unknown:
            raise ValueError(f"{path}: unknown keys {sorted(unknown)}")
        store.regions = tuple(data.get("regions", ()))
        for i, spec in enumerate(data.get("access_keys", [])):
            _check_fields(spec, _ACCESS_FIELDS, f"{path}: access_keys[{i}]")
            if "access_key_id" not in spec or "secret_access_key" not in spec:
                raise ValueError(f"{path}: access_keys[{i}] needs access_key_id and secret_access_key")
            key_id = str(spec["access_key_id"])
            store.access_keys[key_id] = AccessKey(
                access_key_id=key_id,
                secret_access_key=str(spec["secret_access_key"]),
                session_token=spec.get("session_token"),
                principal=_principal(spec, key_id),
            )
        for i, spec in enumerate(data.get("api_keys", [])):
            _check_fields(spec, _API_FIELDS, f"{path}: api_keys[{i}]")
            if ("token" in spec) == ("token_sha256" in spec):
                raise ValueError(f"{path}: api_keys[{i}] needs exactly one of token or token_sha256")
            digest = str(spec.get("token_sha256") or hashlib.sha256(str(spec["token"]).encode()).hexdigest()).lower()
            store.api_keys[digest] = _principal(spec, f"api-key-{i}")
    for pair in filter(None, environ.get("OUTCROP_ACCESS_KEYS", "").split(",")):
        key_id, sep, secret = pair.strip().partition(":")
        if not sep or not key_id or not secret:
            raise ValueError("OUTCROP_ACCESS_KEYS must look like AKID:SECRET[,AKID2:SECRET2]")
        store.access_keys[key_id] = AccessKey(key_id, secret, principal=Principal(name=key_id))
    for i, token in enumerate(filter(None, (t.strip() for t in environ.get("OUTCROP_API_KEYS", "").split(",")))):
        store.api_keys[hashlib.sha256(token.encode()).hexdigest()] = Principal(name=f"env-api-key-{i}")
    return store


def _check_fields(spec: dict[str, Any], allowed: set[str], where: str) -> None:
    unknown = set(spec) - allowed
    if unknown:
        raise ValueError(f"{where}: unknown keys {sorted(unknown)}")

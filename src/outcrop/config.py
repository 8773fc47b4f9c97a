"""One frozen settings object. Every field has an `OUTCROP_*` environment default; the CLI overrides."""

from __future__ import annotations

import os
from dataclasses import dataclass, field, fields, replace
from pathlib import Path
from typing import Any

import platformdirs

PROFILES = ("test", "cpu", "gpu", "auto")


def default_cache_dir() -> Path:
    return Path(platformdirs.user_cache_dir("outcrop"))


def default_data_dir() -> Path:
    return Path(platformdirs.user_data_dir("outcrop"))


def _env(name: str, default: Any, kind: type) -> Any:
    raw = os.environ.get(f"OUTCROP_{name.upper()}")
    if raw is None or raw == "":
        return default
    if kind is bool:
        return raw.strip().lower() in {"1", "true", "yes", "on"}
    if kind is Path:
        return Path(raw).expanduser()
    if kind is PathList:
        return tuple(Path(p).expanduser() for p in raw.split(os.pathsep) if p)
    if kind is tuple:
        return tuple(p for p in raw.split(",") if p)
    return kind(raw)


class PathList(tuple):  # type: ignore[type-arg]
    """Marker kind: an os.pathsep-separated list of folders in the environment (like PATH)."""


_KINDS: dict[str, type] = {
    "models_file": Path, "cache_dir": Path, "data_dir": Path, "tls_cert": Path, "tls_key": Path,
    "port": int, "max_body_bytes": int, "load_wait_s": float, "preload": bool,
    # security / observability
    "auth_file": Path, "insecure": bool, "cors_origins": tuple, "shutdown_timeout_s": float, "access_log": bool,
    "stalled_send_timeout_s": float,
    "search_roots": PathList, "search_uri": str, "guardrails_file": Path,
}


@dataclass(frozen=True)
class Settings:
    """What the server and the engines need to start; environment first, CLI flags on top."""

    profile: str = "auto"
    models_file: Path | None = None
    host: str = "127.0.0.1"
    port: int = 8080
    cache_dir: Path = field(default_factory=default_cache_dir)
    data_dir: Path = field(default_factory=default_data_dir)
    preload: bool = False
    # How long a request waits for weights that are loading before it gets ModelNotReadyException.
    # Kept well inside botocore's 60 s read timeout; the SDKs retry ModelNotReadyException.
    load_wait_s: float = 20.0
    # Largest request body; Bedrock's InvokeModel blob limit.
    max_body_bytes: int = 25_000_000
    tls_cert: Path | None = None
    tls_key: Path | None = None
    log_level: str = "info"
    # -- security and observability (server/auth, server/binding.py, server/cors.py, server/logs.py) --
    # TOML file of access keys / API keys and their permissions; keys may also come from
    # OUTCROP_ACCESS_KEYS / OUTCROP_API_KEYS. No keys: no authentication (loopback only, see `insecure`).
    auth_file: Path | None = None
    # Serve a non-loopback address without authentication anyway.
    insecure: bool = False
    # Origins allowed to make cross-origin (browser) requests; every other origin is refused.
    cors_origins: tuple[str, ...] = ()
    log_format: str = "text"
    # SIGTERM: stop accepting, let in-flight requests finish for up to this long, exit 0.
    shutdown_timeout_s: float = 30.0
    # One Hypercorn access-log line per request (it names the protocol: HTTP/1.1 or HTTP/2).
    access_log: bool = False
    # A client that reads nothing of its response for this long (an HTTP/2 window held at 0, a full
    # TCP buffer) is treated as gone: its work is cancelled and its stream reset. botocore itself
    # gives up after 60 s without a byte.
    stalled_send_timeout_s: float = 60.0
    # Folders whose files the /outcrop/v1 search routes may read (imagePath, folder filters);
    # empty = no server-side paths at all. Env: OUTCROP_SEARCH_ROOTS, os.pathsep-separated.
    search_roots: tuple[Path, ...] = ()
    # Milvus URI for image collections (http://host:19530 or a Milvus Lite .db file);
    # None = the embedded SQLite + faiss store under data_dir. Env: OUTCROP_SEARCH_URI.
    search_uri: str | None = None
    # TOML or YAML file of read-only operator guardrails in the CreateGuardrail shape (--guardrails).
    guardrails_file: Path | None = None
    # The image-text embedding model of the profile whose space guardrails use to assess images for
    # VIOLENCE, HATE, INSULTS and MISCONDUCT (zero-shot); "" or an id the profile lacks: SEXUAL only.
    guardrail_image_model: str = "amazon.titan-embed-image-v1"
    # A chat model of the profile that judges PROMPT_ATTACK and MISCONDUCT text beside the exemplar
    # detector (guardrails/judge.py); None (the default): the profile's `[guardrails] judge`; "": none.
    guardrail_judge_model: str | None = None

    @classmethod
    def from_env(cls, **overrides: Any) -> Settings:
        base = cls()
        values = {f.name: _env(f.name, getattr(base, f.name), _KINDS.get(f.name, str)) for f in fields(cls)}
        values.update({k: v for k, v in overrides.items() if v is not None})
        settings = cls(**values)
        if settings.profile not in PROFILES:
            raise ValueError(f"unknown profile {settings.profile!r}; choose one of {', '.join(PROFILES)}")
        return settings

    def with_(self, **changes: Any) -> Settings:
        return replace(self, **changes)

    @property
    def resolved_profile(self) -> str:
        """`auto` becomes `gpu` when CUDA is available, else `cpu` (torch is imported only here)."""
        if self.profile != "auto":
            return self.profile
        try:
            import torch

            return "gpu" if torch.cuda.is_available() else "cpu"
        except Exception:  # torch missing or broken: the CPU profile still tells the user what to fix
            return "cpu"

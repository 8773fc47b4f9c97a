"""Bedrock API keys: `Authorization: Bearer <token>`, as botocore sends it with AWS_BEARER_TOKEN_BEDROCK
(only over HTTPS, so a server that takes API keys serves TLS)."""

from __future__ import annotations

from outcrop.errors import AccessDeniedException
from outcrop.server.auth.keys import KeyStore, Principal

SCHEME = "Bearer"
INVALID = "Authentication failed: Please make sure your API Key is valid."


def is_bearer(authorization: str) -> bool:
    return authorization[: len(SCHEME) + 1].lower() == f"{SCHEME.lower()} "


def authenticate(authorization: str, keys: KeyStore) -> Principal:
    token = authorization[len(SCHEME) + 1 :].strip()
    principal = keys.api_key(token) if token else None
    if principal is None:
        raise AccessDeniedException(INVALID)
    return principal

"""boto3 arguments as the JSON bodies botocore sends, for code that hands Converse requests to
`Runtime.invoke` directly (bench/document_extraction.py)."""

from __future__ import annotations

import base64
from typing import Any


def wire_json(value: Any) -> Any:
    """boto3 arguments as the JSON body botocore sends: blobs become base64 strings."""
    if isinstance(value, bytes):
        return base64.b64encode(value).decode()
    if isinstance(value, dict):
        return {k: wire_json(v) for k, v in value.items()}
    if isinstance(value, list):
        return [wire_json(v) for v in value]
    return value

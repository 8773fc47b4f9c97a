"""`search_images`: the SDK entry point (e.g. for `MultimodalAssistant.search_images`), in-process or
against a running outcrop server's `/outcrop/v1` routes, with the same arguments and result shape.

Against a server it authenticates as a Bedrock client would, so a server with keys accepts it: a
Bedrock API key (`api_key`, else `AWS_BEARER_TOKEN_BEDROCK`, boto3's own variable) as a bearer
token, or else a SigV4 signature (service `bedrock`) made by botocore from the usual credential
chain and region. With neither, the request goes unsigned (a server without keys needs none)."""

from __future__ import annotations

import base64
import json
import os
import urllib.error
import urllib.request
from pathlib import Path
from typing import Any

from outcrop.search.store import SearchError


def search_images(
    text: str | None = None, *, image: bytes | Path | None = None, collection: str = "default", k: int = 10,
    server: str | None = None, folder: str | None = None, after: float | None = None, before: float | None = None,
    min_bytes: int | None = None, timeout: float = 60.0, api_key: str | None = None, region: str | None = None,
) -> list[dict[str, Any]]:
    """Hits (path, score, size, ...) best first for a text or an image (bytes, or a path to a file)."""
    if (text is None) == (image is None):
        raise SearchError("give a text or an image (one of them)")
    if server:
        body: dict[str, Any] = {"k": k, "folder": folder, "after": after, "before": before, "minBytes": min_bytes}
        if text is not None:
            body["text"] = text
        else:
            data = Path(image).read_bytes() if isinstance(image, Path) else image  # type: ignore[arg-type]
            body["image"] = base64.b64encode(data).decode()
        url = f"{server.rstrip('/')}/outcrop/v1/collections/{collection}/search"
        payload = json.dumps({k_: v for k_, v in body.items() if v is not None}).encode()
        headers = _auth_headers("POST", url, payload, {"Content-Type": "application/json"}, api_key, region)
        request = urllib.request.Request(url, data=payload, headers=headers, method="POST")
        try:
            with urllib.request.urlopen(request, timeout=timeout) as response:
                return json.loads(response.read())["hits"]  # type: ignore[no-any-return]
        except urllib.error.HTTPError as exc:
            raise SearchError(json.loads(exc.read() or b"{}").get("message", str(exc))) from None
    return _in_process(text, image, collection, k, folder, after, before, min_bytes)


def _auth_headers(method: str, url: str, payload: bytes, headers: dict[str, str], api_key: str | None,
                  region: str | None) -> dict[str, str]:
    token = api_key or os.environ.get("AWS_BEARER_TOKEN_BEDROCK")
    if token:
        return {**headers, "Authorization": f"Bearer {token}"}
    import botocore.session
    from botocore.auth import SigV4Auth
    from botocore.awsrequest import AWSRequest

    session = botocore.session.get_session()
    credentials = session.get_credentials()
    if credentials is None:
        return headers
    request = AWSRequest(method=method, url=url, data=payload, headers=headers)
    SigV4Auth(credentials.get_frozen_credentials(), "bedrock", region or session.get_config_variable("region") or "us-east-1").add_auth(request)
    return dict(request.headers.items())


def _in_process(text: str | None, image: bytes | Path | None, collection: str, k: int, folder: str | None,
                after: float | None, before: float | None, min_bytes: int | None) -> list[dict[str, Any]]:
    import io

    from PIL import Image

    from outcrop.config import Settings
    from outcrop.search.collections import open_collection
    from outcrop.search.embedder import make_embedder
    from outcrop.search.query import hit_dict, search
    from outcrop.search.store import Filters

    settings = Settings.from_env()
    filters = Filters(folder=folder, after=after, before=before, min_bytes=min_bytes)
    with open_collection(collection, data_dir=settings.data_dir) as store:
        with make_embedder(endpoint=None, model_id="amazon.titan-embed-image-v1", dimension=store.info.dimension, settings=settings) as emb:
            if isinstance(image, Path):
                hits = search(store, emb, k=k, filters=filters or None, image_path=image)
            elif image is not None:
                hits = search(store, emb, k=k, filters=filters or None, image=Image.open(io.BytesIO(image)).convert("RGB"))
            else:
                hits = search(store, emb, k=k, filters=filters or None, text=text)
    return [hit_dict(h) for h in hits]

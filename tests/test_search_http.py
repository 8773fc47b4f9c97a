"""The /outcrop/v1 search routes on a real server (app in a thread, real HTTP), and the SDK client."""

from __future__ import annotations

import base64
import os
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from outcrop.config import Settings
from outcrop.search.client import search_images
from outcrop.search.collections import open_collection
from outcrop.search.embedder import InProcessEmbedder
from outcrop.search.indexer import index_folder
from outcrop.search.store import SearchError
from outcrop.server.app import build_app
from search_helpers import make_folder
from servers import ThreadServer


@pytest.fixture(scope="module")
def setup(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, Path, Path]]:
    base = tmp_path_factory.mktemp("http")
    root, outside = base / "photos", base / "secret"
    make_folder(root, 30)
    make_folder(outside, 1)
    (root / "escape").symlink_to(outside, target_is_directory=True)
    mp = pytest.MonkeyPatch()
    mp.setenv("OUTCROP_SEARCH_ROOTS", str(root))  # read once, into the frozen Settings
    settings = Settings.from_env(profile="test", data_dir=base / "data")
    mp.undo()
    assert settings.search_roots == (root,)
    with InProcessEmbedder(settings) as emb, open_collection("pics", data_dir=settings.data_dir, model_key=emb.model_key, dimension=1024) as store:
        index_folder(store, emb, root, progress=False)
    with ThreadServer(build_app(settings)) as server:
        yield server.url, root, outside


def test_search_by_text_image_and_path(setup: tuple[str, Path, Path]) -> None:
    url, root, _ = setup
    r = httpx.post(f"{url}/outcrop/v1/collections/pics/search", json={"text": "赤い車", "k": 5}, timeout=60)
    assert r.status_code == 200 and len(r.json()["hits"]) == 5
    target = root / "green_ellipse_1.png"
    r = httpx.post(f"{url}/outcrop/v1/collections/pics/search", json={"image": base64.b64encode(target.read_bytes()).decode(), "k": 3}, timeout=60)
    assert r.json()["hits"][0]["path"] == str(target)
    r = httpx.post(f"{url}/outcrop/v1/collections/pics/search", json={"imagePath": str(target), "k": 3, "minBytes": 1}, timeout=60)
    assert r.json()["hits"][0]["path"] == str(target)
    listed = httpx.get(f"{url}/outcrop/v1/collections", timeout=60).json()
    assert listed[0]["name"] == "pics" and listed[0]["count"] == 30
    assert "/outcrop/v1/collections/{name}/search" in httpx.get(f"{url}/openapi.json").json()["paths"]
    hits = search_images("a red circle", collection="pics", k=4, server=url)
    assert len(hits) == 4 and {"path", "score", "size"} <= set(hits[0])
    assert search_images(image=target, collection="pics", k=1, server=url)[0]["path"] == str(target)


@pytest.mark.parametrize("path", ["{outside}/black_ellipse_0.jpg", "{root}/../secret/black_ellipse_0.jpg",
                                  "{root}/escape/black_ellipse_0.jpg", "/etc/passwd"])
def test_paths_outside_roots_are_refused(setup: tuple[str, Path, Path], path: str) -> None:
    url, root, outside = setup
    r = httpx.post(f"{url}/outcrop/v1/collections/pics/search", json={"imagePath": path.format(root=root, outside=outside)}, timeout=60)
    assert r.status_code == 403 and "outside the configured search roots" in r.json()["message"]
    r = httpx.post(f"{url}/outcrop/v1/collections/pics/search", json={"text": "x", "folder": str(outside)}, timeout=60)
    assert r.status_code == 403


def test_bad_requests(setup: tuple[str, Path, Path]) -> None:
    url, root, _ = setup
    r = httpx.post(f"{url}/outcrop/v1/collections/nope/search", json={"text": "x"}, timeout=60)
    assert r.status_code == 404 and "no collection 'nope'" in r.json()["message"]
    r = httpx.post(f"{url}/outcrop/v1/collections/..%2Fetc/search", json={"text": "x"}, timeout=60)
    assert r.status_code in (400, 404)
    r = httpx.post(f"{url}/outcrop/v1/collections/pics/search", json={"image": "!!notbase64"}, timeout=60)
    assert r.status_code == 400 and "base64" in r.json()["message"]
    r = httpx.post(f"{url}/outcrop/v1/collections/pics/search", json={"text": "x", "image": "AAAA"}, timeout=60)
    assert r.status_code == 400
    r = httpx.post(f"{url}/outcrop/v1/collections/pics/search", json={"text": "x", "k": 0}, timeout=60)
    assert r.status_code == 400
    with pytest.raises(SearchError, match="no collection 'nope'") as missing:
        search_images("x", collection="nope", server=url)
    assert str(root.parent) not in str(missing.value)  # the server's folders stay private


def test_search_settings_come_from_the_environment(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """OUTCROP_SEARCH_ROOTS is a PATH-style list (so commas in folder names are fine); OUTCROP_SEARCH_URI a string."""
    monkeypatch.setenv("OUTCROP_SEARCH_ROOTS", os.pathsep.join([str(tmp_path / "a,b"), "", "~/pics"]))
    monkeypatch.setenv("OUTCROP_SEARCH_URI", "http://milvus:19530")
    settings = Settings.from_env()
    assert settings.search_roots == (tmp_path / "a,b", Path("~/pics").expanduser())
    assert settings.search_uri == "http://milvus:19530"
    monkeypatch.delenv("OUTCROP_SEARCH_ROOTS")
    monkeypatch.delenv("OUTCROP_SEARCH_URI")
    assert Settings.from_env().search_roots == () and Settings.from_env().search_uri is None

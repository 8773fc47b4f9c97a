"""Indexing and searching a generated folder with the tiny test-profile embedder, in-process."""

from __future__ import annotations

import os
import shutil
import signal
import sqlite3
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from outcrop.config import Settings
from outcrop.search.collections import list_collections, open_collection
from outcrop.search.embedder import InProcessEmbedder
from outcrop.search.indexer import index_folder
from outcrop.search.query import find_dupes, search
from outcrop.search.store import CollectionMismatch, Filters
from search_helpers import draw_shape, make_folder

N = 240


@pytest.fixture(scope="module")
def embedder() -> Iterator[InProcessEmbedder]:
    emb = InProcessEmbedder(Settings.from_env(profile="test"))
    yield emb
    emb.close()


@pytest.fixture(scope="module")
def folder(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("photos")
    make_folder(root, N)
    (root / "empty.jpg").write_bytes(b"")
    good = (root / "red_ellipse_0.jpg").read_bytes()
    (root / "broken.jpg").write_bytes(good[: len(good) // 2])
    (root / "notes.txt").write_text("not an image")
    (root / "sub").mkdir()
    make_folder(root / "sub", 10, start=1000)
    (root / "sub" / "loop").symlink_to(root, target_is_directory=True)
    return root


def test_index_search_and_bad_files(tmp_path: Path, folder: Path, embedder: InProcessEmbedder) -> None:
    skipped: list[tuple[str, str]] = []
    with open_collection("photos", data_dir=tmp_path, model_key=embedder.model_key, dimension=1024) as store:
        report = index_folder(store, embedder, folder, recursive=True, batch_size=32, progress=False,
                              on_skip=lambda p, why: skipped.append((p, why)))
        assert store.count() == N + 10
        reasons = {Path(p).name: why for p, why in skipped}
        assert "0 bytes" in reasons["empty.jpg"]
        assert "not a readable image" in reasons["broken.jpg"]
        assert any("symlink loop" in why for why in reasons.values())
        assert report.embedded + report.reused == N + 10
        # Image → image: an indexed picture finds itself first.
        query = folder / "blue_triangle_12.jpg"
        hits = search(store, embedder, k=5, image_path=query)
        assert hits[0].path == str(query) and hits[0].score == pytest.approx(1.0, abs=1e-5)
        assert [h.score for h in hits] == sorted((h.score for h in hits), reverse=True)
        # A new picture (not indexed) ranks its closest sibling (same colour, shape and seed) first.
        fresh = tmp_path / "query.png"
        draw_shape("green", "ellipse", seed=1).save(fresh)
        assert search(store, embedder, k=3, image_path=fresh)[0].path == str(folder / "green_ellipse_1.png")
        # Text → image: plumbing only with random weights; results are real rows, best first.
        hits = search(store, embedder, k=10, text="赤い車")
        assert len(hits) == 10 and all(Path(h.path).exists() for h in hits)
        # Filters: folder prefix, min size, dates.
        sub_hits = search(store, embedder, k=50, image_path=query, filters=Filters(folder=str(folder / "sub")))
        assert len(sub_hits) == 10 and all(h.path.startswith(str(folder / "sub") + os.sep) for h in sub_hits)
        big = sorted(h.size for h in hits)[5]
        assert all(h.size >= big for h in search(store, embedder, k=20, text="x", filters=Filters(min_bytes=big)))
        assert search(store, embedder, k=5, text="x", filters=Filters(before=0)) == []
    assert list_collections(data_dir=tmp_path) == ["photos"]


def test_incremental_reindex(tmp_path: Path, embedder: InProcessEmbedder) -> None:
    root = tmp_path / "pics"
    paths = make_folder(root, 60)
    with open_collection("inc", data_dir=tmp_path, model_key=embedder.model_key, dimension=1024) as store:
        first = index_folder(store, embedder, root, progress=False)
        assert (first.embedded, store.count()) == (60, 60)
        again = index_folder(store, embedder, root, progress=False)
        assert (again.embedded, again.unchanged) == (0, 60)
        make_folder(root, 5, start=500)                      # 5 new
        for p in paths[:4]:                                   # 4 deleted
            p.unlink()
        changed = paths[10]
        draw_shape("black", "triangle", seed=999).save(changed, format="PNG" if changed.suffix == ".png" else "JPEG")
        os.utime(changed, (time.time() + 5, time.time() + 5))
        shutil.copy(paths[20], root / "copy_of_20.png")       # same content: reused, not embedded
        third = index_folder(store, embedder, root, progress=False)
        assert (third.embedded, third.reused, third.deleted) == (6, 1, 4)
        assert store.count() == 60 + 5 - 4 + 1
        assert sorted(store.manifest()) == sorted(str(p) for p in root.iterdir())
        hits = search(store, embedder, k=2, image_path=changed)
        assert hits[0].path == str(changed)
        groups = find_dupes(store, threshold=0.999)
        assert sorted([str(paths[20]), str(root / "copy_of_20.png")]) in [[h.path for h in g] for g in groups]


class VanishingEmbedder:
    """The real embedder, plus a file deleted while the run is in progress (as a user might)."""

    def __init__(self, inner: InProcessEmbedder, victim: Path) -> None:
        self.inner, self.victim = inner, victim
        self.model_key, self.dimension = inner.model_key, inner.dimension

    def embed_images(self, images):  # type: ignore[no-untyped-def]
        self.victim.unlink(missing_ok=True)
        return self.inner.embed_images(images)


def test_file_disappears_during_indexing(tmp_path: Path, embedder: InProcessEmbedder) -> None:
    root = tmp_path / "pics"
    victim = sorted(make_folder(root, 20))[-1]  # files are read in name order: this one comes last
    skipped: list[tuple[str, str]] = []
    with open_collection("gone", data_dir=tmp_path, model_key=embedder.model_key, dimension=1024) as store:
        report = index_folder(store, VanishingEmbedder(embedder, victim), root, batch_size=8, progress=False,  # type: ignore[arg-type]
                              on_skip=lambda p, why: skipped.append((p, why)))
        assert skipped == [(str(victim), "file disappeared before it could be read")]
        assert store.count() == 19 and report.embedded == 19


def test_dimension_mismatch_says_reindex(tmp_path: Path, embedder: InProcessEmbedder) -> None:
    root = tmp_path / "pics"
    make_folder(root, 3)
    open_collection("dims", data_dir=tmp_path, model_key=embedder.model_key, dimension=256).close()
    with pytest.raises(CollectionMismatch, match="--reindex"):
        open_collection("dims", data_dir=tmp_path, model_key=embedder.model_key, dimension=1024)
    # --reindex drops it and builds a 1024-d collection.
    with open_collection("dims", data_dir=tmp_path, model_key=embedder.model_key, dimension=1024, reindex=True) as store:
        index_folder(store, embedder, root, progress=False)
        assert store.count() == 3 and store.info.dimension == 1024


def _cli(*args: str, env: dict[str, str]) -> subprocess.Popen[bytes]:
    return subprocess.Popen([sys.executable, "-m", "outcrop", *args], env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE)


def test_killed_run_resumes_without_loss_or_duplicates(tmp_path: Path, embedder: InProcessEmbedder) -> None:
    root = tmp_path / "pics"
    make_folder(root, 200)
    env = {**os.environ, "OUTCROP_DATA_DIR": str(tmp_path / "data")}
    db = tmp_path / "data" / "search" / "killed" / "collection.sqlite"
    proc = _cli("index", str(root), "--collection", "killed", "--profile", "test", "--batch-size", "4", "--no-progress", env=env)
    count = 0
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline and proc.poll() is None:
        if db.exists():
            try:
                with sqlite3.connect(db, timeout=10) as conn:
                    count = conn.execute("SELECT COUNT(*) FROM images").fetchone()[0]
            except sqlite3.OperationalError:  # the file exists a moment before its tables do
                count = 0
            if count >= 20:
                break
        time.sleep(0.05)
    assert proc.poll() is None, "the run finished before it could be killed"
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    assert 0 < count < 200
    with open_collection("killed", data_dir=tmp_path / "data", model_key=embedder.model_key, dimension=1024) as store:
        report = index_folder(store, embedder, root, progress=False)
        assert store.count() == 200 and report.unchanged >= count
        with sqlite3.connect(db) as conn:
            assert conn.execute("SELECT COUNT(DISTINCT path) FROM images").fetchone()[0] == 200
        resumed = [h.path for h in search(store, embedder, k=10, image_path=root / "red_ellipse_0.jpg")]
    with open_collection("clean", data_dir=tmp_path / "data", model_key=embedder.model_key, dimension=1024) as clean:
        index_folder(clean, embedder, root, progress=False)
        assert [h.path for h in search(clean, embedder, k=10, image_path=root / "red_ellipse_0.jpg")] == resumed


def test_cli_index_search_dupes(tmp_path: Path) -> None:
    root = tmp_path / "pics"
    make_folder(root, 12)
    shutil.copy(root / "red_ellipse_0.jpg", root / "again.jpg")
    env = {**os.environ, "OUTCROP_DATA_DIR": str(tmp_path / "data")}
    out = subprocess.run([sys.executable, "-m", "outcrop", "index", str(root), "--profile", "test", "--no-progress"],
                         env=env, capture_output=True, text=True, timeout=180)
    assert out.returncode == 0, out.stderr
    assert "default: 13 images" in out.stdout
    out = subprocess.run([sys.executable, "-m", "outcrop", "search", "--image", str(root / "again.jpg"), "-k", "2", "--json",
                          "--profile", "test"], env=env, capture_output=True, text=True, timeout=180)
    assert out.returncode == 0, out.stderr
    import json

    assert {h["path"] for h in json.loads(out.stdout)} == {str(root / "again.jpg"), str(root / "red_ellipse_0.jpg")}
    out = subprocess.run([sys.executable, "-m", "outcrop", "index", str(root), "--profile", "test", "--dimensions", "256"],
                         env=env, capture_output=True, text=True, timeout=180)
    assert out.returncode == 1 and "--reindex" in out.stderr and "Traceback" not in out.stderr

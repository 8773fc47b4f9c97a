"""The same store contract and indexer on the Milvus backend, run on Milvus Lite (a local .db)."""

from __future__ import annotations

import time
from pathlib import Path

import pytest

from outcrop.search.collections import open_collection
from outcrop.search.store import BackendUnavailable, CollectionMismatch, Filters
from test_search_store import clustered, exact_top, records

pytest.importorskip("milvus_lite")


def test_milvus_lite_store_contract(tmp_path: Path) -> None:
    uri = str(tmp_path / "milvus.db")
    vectors = clustered(300)
    store = open_collection("c", data_dir=tmp_path, uri=uri, model_key="m", dimension=64)
    store.upsert(records(vectors)[:150])
    store.upsert(records(vectors)[150:])
    assert store.count() == 300
    q = clustered(5, seed=1)
    for query in q:
        assert {h.path for h in store.similar(query, 10)} == set(exact_top(vectors, query, 10))
    store.delete(["/photos/0000.png", "/photos/0001.png"])
    store.upsert(records(vectors[:1] * 0 + q[0:1])[:1])  # /photos/0000.png back, now equal to q[0]
    assert store.count() == 299
    assert store.similar(q[0], 1)[0].path == "/photos/0000.png"
    assert "/photos/0001.png" not in store.manifest()
    assert all(h.size >= 1200 for h in store.similar(q[1], 10, Filters(min_bytes=1200)))
    assert store.similar(q[1], 10, Filters(folder="/elsewhere")) == []
    hit = store.get_hit("/photos/0005.png")
    assert hit is not None and store.similar_by_id(hit.id, 3)[0].id != hit.id
    # Rows are keyed by path: a file indexed again replaces its row, within a batch the last one wins.
    rows = records(vectors)
    store.upsert([rows[0], rows[5], records(q[2:3])[0]])  # /photos/0000.png twice in one batch: now q[2]
    assert store.count() == 299
    top = store.similar(q[2], 1)[0]
    assert top.path == "/photos/0000.png" and top.score == pytest.approx(1.0, abs=1e-4)
    assert len([h for h in store.similar(q[2], 20) if h.path == "/photos/0000.png"]) == 1
    store.close()
    with pytest.raises(CollectionMismatch, match="--reindex"):
        open_collection("c", data_dir=tmp_path, uri=uri, model_key="m", dimension=128)


def test_milvus_collection_from_the_auto_id_schema_is_refused_until_reindexed(tmp_path: Path) -> None:
    """A collection made before rows were keyed by path: clear error naming --reindex, which works."""
    from pymilvus import DataType, MilvusClient

    uri = str(tmp_path / "milvus.db")
    client = MilvusClient(uri=uri)
    schema = client.create_schema(auto_id=True, enable_dynamic_field=False)
    schema.add_field("id", DataType.INT64, is_primary=True)
    schema.add_field("vector", DataType.FLOAT_VECTOR, dim=64)
    schema.add_field("path", DataType.VARCHAR, max_length=4096)
    index = client.prepare_index_params()
    index.add_index(field_name="vector", index_type="AUTOINDEX", metric_type="IP")
    client.create_collection("outcrop_old", schema=schema, index_params=index,
                             properties={"outcrop.model_id": "m", "outcrop.dimension": "64"})
    client.close()
    with pytest.raises(CollectionMismatch, match="older outcrop.*--reindex"):
        open_collection("old", data_dir=tmp_path, uri=uri, model_key="m", dimension=64)
    store = open_collection("old", data_dir=tmp_path, uri=uri, model_key="m", dimension=64, reindex=True)
    store.upsert(records(clustered(10)))
    assert store.count() == 10
    store.close()


def test_milvus_down_is_a_clear_error(tmp_path: Path) -> None:
    started = time.monotonic()
    with pytest.raises(BackendUnavailable, match="cannot reach Milvus at http://127.0.0.1:9"):
        open_collection("c", data_dir=tmp_path, uri="http://127.0.0.1:9", model_key="m", dimension=64)
    assert time.monotonic() - started < 60


def test_index_and_search_on_milvus_lite(tmp_path: Path) -> None:
    from outcrop.config import Settings
    from outcrop.search.embedder import InProcessEmbedder
    from outcrop.search.indexer import index_folder
    from outcrop.search.query import search
    from search_helpers import make_folder

    root = tmp_path / "pics"
    paths = make_folder(root, 40)
    uri = str(tmp_path / "milvus.db")
    with InProcessEmbedder(Settings.from_env(profile="test")) as embedder:
        with open_collection("pics", data_dir=tmp_path, uri=uri, model_key=embedder.model_key, dimension=1024) as store:
            assert index_folder(store, embedder, root, batch_size=16, progress=False).embedded == 40
            paths[0].unlink()
            make_folder(root, 3, start=100)
            report = index_folder(store, embedder, root, progress=False)
            assert (report.embedded, report.deleted, report.unchanged, store.count()) == (3, 1, 39, 42)
            hits = search(store, embedder, k=3, image_path=paths[5])
            assert hits[0].path == str(paths[5]) and hits[0].score == pytest.approx(1.0, abs=1e-4)

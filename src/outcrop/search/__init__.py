"""Image search: index folders of images with the Titan embeddings engine, query by text or image.

Store interface in `store`, backends in `local` (SQLite + faiss, the default) and `milvus`,
indexing in `indexer`, queries in `query`, an SDK entry point in `client`.
"""

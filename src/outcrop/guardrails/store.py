"""Guardrails on disk: one SQLite file in the data directory, so they survive restarts.

Each call opens its own connection; writes run inside `BEGIN IMMEDIATE`, so concurrent writers
(threads or processes) are serialised by SQLite and every read sees a whole guardrail, never half
an update. The DRAFT lives in `guardrails.draft`; numbered versions are immutable rows."""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

SCHEMA = """
CREATE TABLE IF NOT EXISTS guardrails (
    id TEXT PRIMARY KEY,
    arn TEXT NOT NULL,
    name TEXT NOT NULL UNIQUE,
    draft TEXT NOT NULL,
    created_at TEXT NOT NULL,
    updated_at TEXT NOT NULL,
    next_version INTEGER NOT NULL DEFAULT 1,
    tags TEXT NOT NULL DEFAULT '[]'
);
CREATE TABLE IF NOT EXISTS versions (
    id TEXT NOT NULL REFERENCES guardrails(id) ON DELETE CASCADE,
    version INTEGER NOT NULL,
    spec TEXT NOT NULL,
    description TEXT,
    created_at TEXT NOT NULL,
    PRIMARY KEY (id, version)
);
CREATE TABLE IF NOT EXISTS tokens (
    token TEXT NOT NULL,
    operation TEXT NOT NULL,
    request_hash TEXT NOT NULL,
    response TEXT NOT NULL,
    PRIMARY KEY (token, operation)
);
"""


@dataclass(frozen=True)
class StoredGuardrail:
    """One version of a guardrail as the store holds it: `version` is "DRAFT" or a number as text."""

    id: str
    arn: str
    version: str
    spec: dict[str, Any]
    created_at: str
    updated_at: str
    description: str | None


class GuardrailStore:
    def __init__(self, path: Path) -> None:
        self.path = path
        path.parent.mkdir(parents=True, exist_ok=True)
        with self._connect() as db:
            db.execute("PRAGMA journal_mode=WAL")
            db.executescript(SCHEMA)

    def _connect(self) -> sqlite3.Connection:
        db = sqlite3.connect(self.path, timeout=30, isolation_level=None)
        db.execute("PRAGMA foreign_keys=ON")
        db.execute("PRAGMA busy_timeout=30000")
        return db

    @contextmanager
    def write(self) -> Iterator[sqlite3.Connection]:
        """One write transaction, taken before any read so that check-then-write is atomic."""
        db = self._connect()
        try:
            db.execute("BEGIN IMMEDIATE")
            yield db
            db.execute("COMMIT")
        except BaseException:
            if db.in_transaction:
                db.execute("ROLLBACK")
            raise
        finally:
            db.close()

    @contextmanager
    def read(self) -> Iterator[sqlite3.Connection]:
        db = self._connect()
        try:
            yield db
        finally:
            db.close()

    @staticmethod
    def row_of(db: sqlite3.Connection, guardrail_id: str) -> tuple[Any, ...] | None:
        return db.execute(  # type: ignore[no-any-return]
            "SELECT id, arn, name, draft, created_at, updated_at, next_version, tags FROM guardrails WHERE id = ?",
            (guardrail_id,),
        ).fetchone()

    def get(self, guardrail_id: str, version: str = "DRAFT") -> StoredGuardrail | None:
        with self.read() as db:
            row = self.row_of(db, guardrail_id)
            if row is None:
                return None
            if version == "DRAFT":
                spec = json.loads(row[3])
                return StoredGuardrail(row[0], row[1], "DRAFT", spec, row[4], row[5], spec.get("description"))
            found = db.execute("SELECT spec, description, created_at FROM versions WHERE id = ? AND version = ?",
                               (guardrail_id, int(version))).fetchone()
            if found is None:
                return None
            return StoredGuardrail(row[0], row[1], version, json.loads(found[0]), found[2], found[2], found[1])

    def all_drafts(self) -> list[StoredGuardrail]:
        with self.read() as db:
            rows = db.execute("SELECT id, arn, draft, created_at, updated_at FROM guardrails ORDER BY created_at, id").fetchall()
        return [StoredGuardrail(r[0], r[1], "DRAFT", json.loads(r[2]), r[3], r[4], json.loads(r[2]).get("description"))
                for r in rows]

    def versions_of(self, guardrail_id: str) -> list[StoredGuardrail]:
        """DRAFT first, then the numbered versions in order; empty when the guardrail does not exist."""
        draft = self.get(guardrail_id)
        if draft is None:
            return []
        with self.read() as db:
            rows = db.execute("SELECT version, spec, description, created_at FROM versions WHERE id = ? ORDER BY version",
                              (guardrail_id,)).fetchall()
        return [draft, *(StoredGuardrail(draft.id, draft.arn, str(r[0]), json.loads(r[1]), r[3], r[3], r[2]) for r in rows)]

"""Schema migrations. Each one says why it exists; the catalog's version is SQLite's user_version.

Append new migrations; never edit one that has shipped.
"""

from dataclasses import dataclass


@dataclass(frozen=True)
class Migration:
    version: int
    why: str
    sql: str


MIGRATIONS: list[Migration] = [
    Migration(
        version=1,
        why="First schema. Images are keyed by content hash so a moved or renamed file keeps "
        "its descriptions; descriptions are per (describer, prompt) and embeddings per "
        "(description, embedder), so switching either model redoes only what it must.",
        sql="""
        CREATE TABLE settings (
            key   TEXT PRIMARY KEY,
            value TEXT NOT NULL
        );
        CREATE TABLE images (
            id           INTEGER PRIMARY KEY,
            content_hash TEXT NOT NULL UNIQUE,
            width        INTEGER,           -- as displayed, after EXIF orientation
            height       INTEGER,
            taken_at     TEXT,              -- ISO 8601 from EXIF, with offset when known
            added_at     REAL NOT NULL
        );
        CREATE TABLE files (
            id       INTEGER PRIMARY KEY,
            path     TEXT NOT NULL UNIQUE,  -- absolute
            size     INTEGER NOT NULL,
            mtime_ns INTEGER NOT NULL,
            image_id INTEGER NOT NULL REFERENCES images(id)
        );
        CREATE INDEX files_by_image ON files(image_id);
        CREATE TABLE descriptions (
            id         INTEGER PRIMARY KEY,
            image_id   INTEGER NOT NULL REFERENCES images(id) ON DELETE CASCADE,
            describer  TEXT NOT NULL,
            prompt     TEXT NOT NULL DEFAULT '',
            text       TEXT NOT NULL,
            details    TEXT,               -- JSON: the model's structured output (e.g. top classes)
            created_at REAL NOT NULL,
            UNIQUE (image_id, describer, prompt)
        );
        CREATE TABLE embeddings (
            description_id INTEGER NOT NULL REFERENCES descriptions(id) ON DELETE CASCADE,
            embedder       TEXT NOT NULL,
            vector         BLOB NOT NULL,   -- L2-normalised float32, little-endian
            PRIMARY KEY (description_id, embedder)
        );
        CREATE INDEX embeddings_by_embedder ON embeddings(embedder);
        CREATE TABLE skipped (
            path     TEXT PRIMARY KEY,      -- printable form; undecodable bytes are escaped
            size     INTEGER,
            mtime_ns INTEGER,
            reason   TEXT NOT NULL,
            at       REAL NOT NULL
        );
        CREATE TABLE pending (
            path TEXT PRIMARY KEY           -- found by a scan, not yet indexed (an interrupted run)
        );
        """,
    ),
    Migration(
        version=2,
        why="Library roots: the folders a user has indexed. The web app may start an index run "
        "only on one of them, so a request can never make lucida read an arbitrary folder.",
        sql="""
        CREATE TABLE roots (
            path     TEXT PRIMARY KEY,      -- absolute folder
            added_at REAL NOT NULL
        );
        """,
    ),
    Migration(
        version=5,
        why="Two-tier captions: a fast offline describer covers every photo, then a vision-language "
        "captioner fills in detailed captions. Each description records its kind, so search can "
        "prefer a caption, and the model revision that wrote it; a photo the captioner failed on is "
        "recorded with why (never given an empty caption), so the next run retries it.",
        sql="""
        ALTER TABLE descriptions ADD COLUMN kind TEXT NOT NULL DEFAULT 'describer';  -- or 'captioner'
        ALTER TABLE descriptions ADD COLUMN revision TEXT;  -- hub commit or package version
        CREATE TABLE caption_failures (
            image_id  INTEGER NOT NULL REFERENCES images(id) ON DELETE CASCADE,
            captioner TEXT NOT NULL,
            prompt    TEXT NOT NULL DEFAULT '',
            error     TEXT NOT NULL,
            attempts  INTEGER NOT NULL,
            at        REAL NOT NULL,
            PRIMARY KEY (image_id, captioner, prompt)
        );
        """,
    ),
]

LATEST_VERSION = MIGRATIONS[-1].version

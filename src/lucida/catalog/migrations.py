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
        version=3,
        why="Photo metadata (EXIF, IPTC, XMP and XMP sidecars) per file, for filters and for the "
        "words a photographer gave a photo; kept per file because two copies of one image may have "
        "different sidecars. Each row remembers the sidecars it read, so an edited sidecar is read "
        "again though the photo did not change. And a record of what `lucida export-xmp` wrote, "
        "so that --undo removes exactly that.",
        sql="""
        CREATE TABLE file_metadata (
            path          TEXT PRIMARY KEY REFERENCES files(path) ON DELETE CASCADE,
            sidecars      TEXT NOT NULL,    -- metadata.sidecar_signature() of the sidecars read
            taken_at      TEXT,             -- ISO 8601 local time, with offset when known
            make          TEXT,
            model         TEXT,
            lens          TEXT,
            focal_length  REAL,             -- mm
            aperture      REAL,             -- f-number
            exposure_time REAL,             -- seconds
            iso           INTEGER,
            latitude      REAL,
            longitude     REAL,
            orientation   INTEGER,
            rating        INTEGER,
            label         TEXT,
            title         TEXT,
            description   TEXT,
            keywords      TEXT NOT NULL,    -- JSON list: dc:subject and IPTC Keywords
            hierarchical_keywords TEXT NOT NULL, -- JSON list: lr:hierarchicalSubject
            read_at       REAL NOT NULL
        );
        CREATE INDEX file_metadata_by_taken_at ON file_metadata(taken_at);
        CREATE TABLE xmp_writes (
            target      TEXT PRIMARY KEY,   -- the sidecar (or, with --embed, the photo) written
            photo       TEXT NOT NULL,
            created     INTEGER NOT NULL,   -- 1 when lucida created the sidecar
            description TEXT,               -- dc:description lucida wrote; NULL when it wrote none
            replaced_description TEXT,      -- a description lucida replaced; undo puts it back
            keywords    TEXT NOT NULL,      -- JSON list: dc:subject entries lucida added
            hierarchical_keywords TEXT NOT NULL, -- JSON list: lr:hierarchicalSubject entries it added
            written_at  REAL NOT NULL
        );
        """,
    ),
    Migration(
        version=4,
        why="Hybrid search: BM25 over the words of every description (SQLite FTS5), so exact "
        "words and names (text in the photo, a place, a keyword) find photos that vectors rank "
        "low. Triggers keep the index in step with the descriptions table, cascading deletes "
        "included. Text vectors cache what an embedder made of fixed texts (the ImageNet classes), "
        "so they are embedded once per embedder. Class mixtures are each description's convex "
        "combination of its classes' vectors (ConSE), per embedder, which search mixes into the "
        "description's own vector.",
        sql="""
        CREATE VIRTUAL TABLE description_words USING fts5(
            text, content='descriptions', content_rowid='id',
            tokenize='porter unicode61 remove_diacritics 2'
        );
        CREATE TRIGGER description_words_insert AFTER INSERT ON descriptions BEGIN
            INSERT INTO description_words (rowid, text) VALUES (new.id, new.text);
        END;
        CREATE TRIGGER description_words_delete AFTER DELETE ON descriptions BEGIN
            INSERT INTO description_words (description_words, rowid, text) VALUES ('delete', old.id, old.text);
        END;
        CREATE TRIGGER description_words_update AFTER UPDATE OF text ON descriptions BEGIN
            INSERT INTO description_words (description_words, rowid, text) VALUES ('delete', old.id, old.text);
            INSERT INTO description_words (rowid, text) VALUES (new.id, new.text);
        END;
        INSERT INTO description_words (description_words) VALUES ('rebuild');
        CREATE TABLE text_vectors (
            embedder TEXT NOT NULL,
            text     TEXT NOT NULL,
            vector   BLOB NOT NULL,         -- L2-normalised float32, little-endian
            PRIMARY KEY (embedder, text)
        );
        CREATE TABLE class_mixtures (
            description_id INTEGER NOT NULL REFERENCES descriptions(id) ON DELETE CASCADE,
            embedder       TEXT NOT NULL,
            vector         BLOB NOT NULL,   -- L2-normalised float32, little-endian
            PRIMARY KEY (description_id, embedder)
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
    Migration(
        version=6,
        why="A search loads its vectors, classes and photo groups from a copy kept beside the "
        "catalog (lucida.search_index) rather than rebuilding them from SQL in every new process "
        "(seconds at 10,000 photos). The copy is valid while this counter is unchanged; triggers "
        "advance it on every write to what a search is built from, whoever writes.",
        sql="""
        CREATE TABLE search_generation (
            id    INTEGER PRIMARY KEY CHECK (id = 1),
            value INTEGER NOT NULL
        );
        INSERT INTO search_generation (id, value) VALUES (1, 0);
        CREATE TRIGGER files_insert_search AFTER INSERT ON files BEGIN UPDATE search_generation SET value = value + 1; END;
        CREATE TRIGGER files_update_search AFTER UPDATE ON files BEGIN UPDATE search_generation SET value = value + 1; END;
        CREATE TRIGGER files_delete_search AFTER DELETE ON files BEGIN UPDATE search_generation SET value = value + 1; END;
        CREATE TRIGGER descriptions_insert_search AFTER INSERT ON descriptions BEGIN UPDATE search_generation SET value = value + 1; END;
        CREATE TRIGGER descriptions_update_search AFTER UPDATE ON descriptions BEGIN UPDATE search_generation SET value = value + 1; END;
        CREATE TRIGGER descriptions_delete_search AFTER DELETE ON descriptions BEGIN UPDATE search_generation SET value = value + 1; END;
        CREATE TRIGGER embeddings_insert_search AFTER INSERT ON embeddings BEGIN UPDATE search_generation SET value = value + 1; END;
        CREATE TRIGGER embeddings_update_search AFTER UPDATE ON embeddings BEGIN UPDATE search_generation SET value = value + 1; END;
        CREATE TRIGGER embeddings_delete_search AFTER DELETE ON embeddings BEGIN UPDATE search_generation SET value = value + 1; END;
        CREATE TRIGGER class_mixtures_insert_search AFTER INSERT ON class_mixtures BEGIN UPDATE search_generation SET value = value + 1; END;
        CREATE TRIGGER class_mixtures_update_search AFTER UPDATE ON class_mixtures BEGIN UPDATE search_generation SET value = value + 1; END;
        CREATE TRIGGER class_mixtures_delete_search AFTER DELETE ON class_mixtures BEGIN UPDATE search_generation SET value = value + 1; END;
        CREATE TRIGGER text_vectors_insert_search AFTER INSERT ON text_vectors BEGIN UPDATE search_generation SET value = value + 1; END;
        CREATE TRIGGER text_vectors_update_search AFTER UPDATE ON text_vectors BEGIN UPDATE search_generation SET value = value + 1; END;
        CREATE TRIGGER text_vectors_delete_search AFTER DELETE ON text_vectors BEGIN UPDATE search_generation SET value = value + 1; END;
        """,
    ),
    Migration(
        version=7,
        why="A large catalog is searched through a nearest-neighbour index beside it "
        "(lucida.ann_index) that is updated, not rebuilt, when photos come and go. It needs to "
        "know which photos changed since the generation it reflects: every write that advances "
        "the search generation now also records the photo it touched, with that generation "
        "(one row per photo, the latest change). An upsert, not INSERT OR REPLACE: inside a trigger "
        "the outer statement's conflict handling wins, and put_description's own upsert would make "
        "a REPLACE fail.",
        sql="""
        CREATE TABLE search_changes (
            image_id   INTEGER PRIMARY KEY,
            generation INTEGER NOT NULL
        );
        CREATE INDEX search_changes_by_generation ON search_changes(generation);
        DROP TRIGGER files_insert_search;
        CREATE TRIGGER files_insert_search AFTER INSERT ON files BEGIN UPDATE search_generation SET value = value + 1; INSERT INTO search_changes (image_id, generation) SELECT NEW.image_id, value FROM search_generation WHERE true ON CONFLICT (image_id) DO UPDATE SET generation = excluded.generation; END;
        DROP TRIGGER files_update_search;
        CREATE TRIGGER files_update_search AFTER UPDATE ON files BEGIN UPDATE search_generation SET value = value + 1; INSERT INTO search_changes (image_id, generation) SELECT OLD.image_id, value FROM search_generation WHERE true ON CONFLICT (image_id) DO UPDATE SET generation = excluded.generation; INSERT INTO search_changes (image_id, generation) SELECT NEW.image_id, value FROM search_generation WHERE true ON CONFLICT (image_id) DO UPDATE SET generation = excluded.generation; END;
        DROP TRIGGER files_delete_search;
        CREATE TRIGGER files_delete_search AFTER DELETE ON files BEGIN UPDATE search_generation SET value = value + 1; INSERT INTO search_changes (image_id, generation) SELECT OLD.image_id, value FROM search_generation WHERE true ON CONFLICT (image_id) DO UPDATE SET generation = excluded.generation; END;
        DROP TRIGGER descriptions_insert_search;
        CREATE TRIGGER descriptions_insert_search AFTER INSERT ON descriptions BEGIN UPDATE search_generation SET value = value + 1; INSERT INTO search_changes (image_id, generation) SELECT NEW.image_id, value FROM search_generation WHERE true ON CONFLICT (image_id) DO UPDATE SET generation = excluded.generation; END;
        DROP TRIGGER descriptions_update_search;
        CREATE TRIGGER descriptions_update_search AFTER UPDATE ON descriptions BEGIN UPDATE search_generation SET value = value + 1; INSERT INTO search_changes (image_id, generation) SELECT NEW.image_id, value FROM search_generation WHERE true ON CONFLICT (image_id) DO UPDATE SET generation = excluded.generation; END;
        DROP TRIGGER descriptions_delete_search;
        CREATE TRIGGER descriptions_delete_search AFTER DELETE ON descriptions BEGIN UPDATE search_generation SET value = value + 1; INSERT INTO search_changes (image_id, generation) SELECT OLD.image_id, value FROM search_generation WHERE true ON CONFLICT (image_id) DO UPDATE SET generation = excluded.generation; END;
        DROP TRIGGER embeddings_insert_search;
        CREATE TRIGGER embeddings_insert_search AFTER INSERT ON embeddings BEGIN UPDATE search_generation SET value = value + 1; INSERT INTO search_changes (image_id, generation) SELECT d.image_id, g.value FROM descriptions d, search_generation g WHERE d.id = NEW.description_id ON CONFLICT (image_id) DO UPDATE SET generation = excluded.generation; END;
        DROP TRIGGER embeddings_update_search;
        CREATE TRIGGER embeddings_update_search AFTER UPDATE ON embeddings BEGIN UPDATE search_generation SET value = value + 1; INSERT INTO search_changes (image_id, generation) SELECT d.image_id, g.value FROM descriptions d, search_generation g WHERE d.id = NEW.description_id ON CONFLICT (image_id) DO UPDATE SET generation = excluded.generation; END;
        DROP TRIGGER embeddings_delete_search;
        CREATE TRIGGER embeddings_delete_search AFTER DELETE ON embeddings BEGIN UPDATE search_generation SET value = value + 1; INSERT INTO search_changes (image_id, generation) SELECT d.image_id, g.value FROM descriptions d, search_generation g WHERE d.id = OLD.description_id ON CONFLICT (image_id) DO UPDATE SET generation = excluded.generation; END;
        DROP TRIGGER class_mixtures_insert_search;
        CREATE TRIGGER class_mixtures_insert_search AFTER INSERT ON class_mixtures BEGIN UPDATE search_generation SET value = value + 1; INSERT INTO search_changes (image_id, generation) SELECT d.image_id, g.value FROM descriptions d, search_generation g WHERE d.id = NEW.description_id ON CONFLICT (image_id) DO UPDATE SET generation = excluded.generation; END;
        DROP TRIGGER class_mixtures_update_search;
        CREATE TRIGGER class_mixtures_update_search AFTER UPDATE ON class_mixtures BEGIN UPDATE search_generation SET value = value + 1; INSERT INTO search_changes (image_id, generation) SELECT d.image_id, g.value FROM descriptions d, search_generation g WHERE d.id = NEW.description_id ON CONFLICT (image_id) DO UPDATE SET generation = excluded.generation; END;
        DROP TRIGGER class_mixtures_delete_search;
        CREATE TRIGGER class_mixtures_delete_search AFTER DELETE ON class_mixtures BEGIN UPDATE search_generation SET value = value + 1; INSERT INTO search_changes (image_id, generation) SELECT d.image_id, g.value FROM descriptions d, search_generation g WHERE d.id = OLD.description_id ON CONFLICT (image_id) DO UPDATE SET generation = excluded.generation; END;
        """,
    ),
    Migration(
        version=8,
        why="People (lucida.people): the faces found in each photo, with box, detector score and "
        "descriptor, keyed by the image (its content hash), so a moved photo keeps its faces. Faces "
        "are grouped into clusters automatically; a name is the user's data and is stored on the "
        "faces it was given to, so re-clustering never loses it. A cluster takes the name most of "
        "its named faces carry, and face_people is the one place that rule is written. face_scans "
        "records the photos the face finder read, so a run resumes and a photo without faces is "
        "not read again. Names already in a photo's MWG regions (Lightroom's) are read with its "
        "metadata to seed the people; export-xmp records the names it wrote, for --undo.",
        sql="""
        CREATE TABLE people (
            id         INTEGER PRIMARY KEY,
            name       TEXT NOT NULL UNIQUE COLLATE NOCASE,
            created_at REAL NOT NULL
        );
        CREATE TABLE clusters (
            id        INTEGER PRIMARY KEY,
            person_id INTEGER REFERENCES people(id) ON DELETE SET NULL  -- most of its named faces' person
        );
        CREATE TABLE faces (
            id         INTEGER PRIMARY KEY,
            image_id   INTEGER NOT NULL REFERENCES images(id) ON DELETE CASCADE,
            finder     TEXT NOT NULL,        -- the face model that found it, or 'metadata' (a named region)
            x REAL NOT NULL, y REAL NOT NULL, w REAL NOT NULL, h REAL NOT NULL,  -- left, top, width, height: fractions of the photo as displayed
            score      REAL NOT NULL,        -- the detector's confidence
            descriptor BLOB NOT NULL,        -- float32, little-endian
            cluster    INTEGER REFERENCES clusters(id) ON DELETE SET NULL,  -- NULL: not clustered yet
            person_id  INTEGER REFERENCES people(id) ON DELETE SET NULL,    -- the name given to this face
            named_by   TEXT,                 -- 'user' or 'metadata'
            pinned     INTEGER NOT NULL DEFAULT 0,  -- split off by the user: only its own name counts
            ignored    INTEGER NOT NULL DEFAULT 0   -- the user said it is not a person
        );
        CREATE INDEX faces_by_image ON faces(image_id);
        CREATE INDEX faces_by_cluster ON faces(cluster);
        CREATE INDEX faces_by_person ON faces(person_id);
        CREATE TABLE face_scans (
            image_id INTEGER PRIMARY KEY REFERENCES images(id) ON DELETE CASCADE,
            finder   TEXT NOT NULL,
            faces    INTEGER NOT NULL,
            error    TEXT,                  -- why the photo could not be read; the next run retries it
            at       REAL NOT NULL
        );
        CREATE VIEW face_people AS
            SELECT f.id AS face_id, f.image_id, f.cluster,
                   CASE WHEN f.pinned THEN f.person_id ELSE coalesce(f.person_id, c.person_id) END AS person_id
            FROM faces f LEFT JOIN clusters c ON c.id = f.cluster
            WHERE NOT f.ignored;
        ALTER TABLE file_metadata ADD COLUMN face_regions TEXT NOT NULL DEFAULT '[]';  -- JSON: named MWG face regions
        ALTER TABLE xmp_writes ADD COLUMN people TEXT NOT NULL DEFAULT '[]';  -- JSON: names lucida added
        """,
    ),
    Migration(
        version=9,
        why="A filtered search at a million photos read every file's metadata (0.5-2 s) before "
        "ranking. The camera, lens and colour label are matched through indexes on the very "
        "expressions the filter compares (lucida.catalog.store._filter_sql), holding the path "
        "too so that the metadata rows themselves are not read, and a date range through the "
        "capture times of both files and images: a filter that lets few photos through reads "
        "only those.",
        sql="""
        CREATE INDEX file_metadata_by_camera ON file_metadata(lower(coalesce(make, '') || ' ' || coalesce(model, '')), path);
        CREATE INDEX file_metadata_by_lens ON file_metadata(lower(lens), path);
        CREATE INDEX file_metadata_by_label ON file_metadata(lower(label), path);
        CREATE INDEX images_by_taken_at ON images(taken_at);
        """,
    ),
]

LATEST_VERSION = MIGRATIONS[-1].version

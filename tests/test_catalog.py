"""The catalog, in a SQLite file and in PostgreSQL: schema versions, transactions, replacement
rules, reads beside writes. Tests that take `catalog_location` run once per backend."""

from __future__ import annotations

import sqlite3

import numpy as np
import pytest

from lucida.catalog import Catalog, open_catalog
from lucida.catalog.migrations import LATEST_VERSION, MIGRATIONS
from lucida.errors import LucidaError


def unit(*values: float) -> np.ndarray:
    v = np.asarray(values, dtype=np.float32)
    return v / np.linalg.norm(v)


def add_photo(catalog: Catalog, path: str, content: str, text: str, describer: str = "d", vector=(1.0, 0.0)) -> int:
    with catalog.transaction():
        image_id = catalog.add_image(content, 10, 20, None)
        description_id = catalog.put_description(image_id, describer, "", text)
        catalog.put_embedding(description_id, "e", unit(*vector))
        catalog.put_file(path, 1, 1, image_id)
    return image_id


def test_new_catalog_has_latest_schema_and_wal(tmp_path):
    with Catalog.open(tmp_path / "c.db"):
        pass
    with sqlite3.connect(tmp_path / "c.db") as db:
        assert db.execute("PRAGMA user_version").fetchone()[0] == LATEST_VERSION
        assert db.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    assert all(m.why for m in MIGRATIONS), "every migration says why it exists"


def test_catalog_from_a_newer_lucida_is_refused(tmp_path):
    with sqlite3.connect(tmp_path / "c.db") as db:
        db.execute(f"PRAGMA user_version = {LATEST_VERSION + 1}")
    with pytest.raises(LucidaError, match="newer than this lucida"):
        Catalog.open(tmp_path / "c.db")


def test_not_a_catalog_is_a_clear_error(tmp_path):
    (tmp_path / "c.db").write_text("these are not the bytes of an SQLite file" * 100)
    with pytest.raises(LucidaError, match="cannot open catalog"):
        Catalog.open(tmp_path / "c.db")


def test_open_without_create_does_not_make_a_file(tmp_path):
    with pytest.raises(LucidaError, match="no catalog at"):
        Catalog.open(tmp_path / "missing.db", create=False)
    assert not (tmp_path / "missing.db").exists()


def test_a_failed_transaction_leaves_nothing(catalog_location):
    with open_catalog(catalog_location) as catalog:
        with pytest.raises(RuntimeError), catalog.transaction():
            catalog.add_image("abc", 1, 1, None)
            raise RuntimeError("interrupted")
        assert catalog.image_id_for_hash("abc") is None


def test_replacing_a_description_drops_its_old_vectors(catalog_location):
    with open_catalog(catalog_location) as catalog:
        image_id = add_photo(catalog, "/p/a.jpg", "h1", "old text")
        assert catalog.descriptions_without_embedding("e") == []
        with catalog.transaction():
            description_id = catalog.put_description(image_id, "d", "", "new text")
        assert catalog.descriptions_without_embedding("e") == [(description_id, "new text", None)]


def test_embedded_descriptions_come_page_by_page_in_id_order(catalog_location):
    with open_catalog(catalog_location) as catalog:
        for n in range(5):
            add_photo(catalog, f"/p/{n}.jpg", f"h{n}", f"text {n}")
        assert catalog.embedding_count("e") == 5 and catalog.embedding_count("other") == 0
        first = catalog.embedded_descriptions("e", limit=3)
        assert [t for _, t, _ in first] == ["text 0", "text 1", "text 2"] and first[0][2] is None
        rest = catalog.embedded_descriptions("e", after=first[-1][0], limit=3)
        assert [t for _, t, _ in rest] == ["text 3", "text 4"]
        assert catalog.embedded_descriptions("e", after=rest[-1][0]) == []


def test_search_vectors_prefer_the_active_describer(catalog_location):
    with open_catalog(catalog_location) as catalog:
        image_id = add_photo(catalog, "/p/a.jpg", "h1", "by old", describer="old", vector=(1.0, 0.0))
        with catalog.transaction():
            description_id = catalog.put_description(image_id, "new", "", "by new")
            catalog.put_embedding(description_id, "e", unit(0.0, 1.0))
        for describer, expected in (("new", [0.0, 1.0]), ("old", [1.0, 0.0])):
            with catalog.transaction():
                catalog.set_setting("describer", describer)
            stored = catalog.search_vectors("e")
            assert stored.image_ids.tolist() == [image_id]
            assert stored.vectors.tolist() == [expected]
            assert catalog.result_rows([image_id])[image_id].caption == f"by {describer}"
            assert catalog.image_record(image_id).preferred.text == f"by {describer}"


def test_result_rows_are_kept_only_until_a_write(catalog_location, monkeypatch):
    """Rows read before are answered from memory (SQLite), but a write by this connection or by
    another is seen at once, and a page larger than what is kept still comes back whole."""
    with open_catalog(catalog_location) as catalog:
        a = add_photo(catalog, "/p/a.jpg", "h1", "a red car", describer="old")
        b = add_photo(catalog, "/p/b.jpg", "h2", "a blue boat", describer="old")
        c = add_photo(catalog, "/p/c.jpg", "h3", "a green tree", describer="old")
        first = catalog.result_rows([a, b, c])
        assert [first[i].caption for i in (a, b, c)] == ["a red car", "a blue boat", "a green tree"]
        assert catalog.result_rows([c, a]) == {c: first[c], a: first[a]}
        # This connection: another describer becomes the active one.
        with catalog.transaction():
            description_id = catalog.put_description(a, "new", "", "a red vintage car")
            catalog.put_embedding(description_id, "e", unit(1.0, 0.0))
            catalog.set_setting("describer", "new")
        assert catalog.result_rows([a])[a].caption == "a red vintage car"
        # Another connection: b gains a file whose name sorts first, c loses its only file.
        with open_catalog(catalog_location) as other:
            with other.transaction():
                other.put_file("/p/0-b.jpg", 1, 1, b)
            other.remove_paths(["/p/c.jpg"])
        again = catalog.result_rows([a, b, c])
        assert again[b].path == "/p/0-b.jpg" and c not in again
        # Read inside a transaction that is rolled back: what it read is not what is kept.
        with pytest.raises(RuntimeError), catalog.transaction():
            catalog.put_file("/p/0-a.jpg", 1, 1, b)
            assert catalog.result_rows([b])[b].path == "/p/0-a.jpg"
            raise RuntimeError("rolled back")
        assert catalog.result_rows([b])[b].path == "/p/0-b.jpg"
        # Fewer kept than a page asks for: every row still answered, the least recent let go.
        monkeypatch.setattr(catalog._rows, "most", 1)
        assert sorted(catalog.result_rows([a, b])) == sorted([a, b])
        assert catalog.result_rows([b, a]) == {b: again[b], a: again[a]}


def test_orphans_pruned_and_skips_cleared_when_a_file_is_indexed(catalog_location):
    with open_catalog(catalog_location) as catalog:
        with catalog.transaction():
            catalog.put_skipped("/p/a.jpg", 0, 0, "file is empty")
        assert [s.reason for s in catalog.status().skipped] == ["file is empty"]
        add_photo(catalog, "/p/a.jpg", "h1", "a photo")
        status = catalog.status()
        assert status.skipped == [] and status.files == 1
        with catalog.transaction():
            assert catalog.remove_paths(["/p/a.jpg"]) == 1
            assert catalog.prune_orphan_images() == 1
        assert catalog.search_vectors("e").image_ids.size == 0


def test_a_reader_sees_committed_batches_while_a_writer_holds_a_transaction(catalog_location):
    with open_catalog(catalog_location) as writer, open_catalog(catalog_location) as reader:
        add_photo(writer, "/p/a.jpg", "h1", "first")
        before = reader.data_version()
        with writer.transaction():
            writer.add_image("h2", 1, 1, None)
            # Mid-transaction, the reader is not blocked and sees only committed rows.
            assert reader.search_vectors("e").image_ids.size == 1
        assert reader.data_version() != before


def test_image_record_has_every_file_and_description(catalog_location):
    with open_catalog(catalog_location) as catalog:
        image_id = add_photo(catalog, "/p/b.jpg", "h1", "first words", describer="old")
        with catalog.transaction():
            catalog.put_file("/p/a.jpg", 2, 2, image_id)  # a copy of the same content
            catalog.put_description(image_id, "new", "a prompt", "second words", {"classes": [{"label": "cat"}]})
        record = catalog.image_record(image_id)
        assert (record.content_hash, record.width, record.height) == ("h1", 10, 20)
        assert [f.path for f in record.files] == ["/p/a.jpg", "/p/b.jpg"]
        assert [(d.describer, d.prompt, d.text, d.details) for d in record.descriptions] == [
            ("old", "", "first words", None),
            ("new", "a prompt", "second words", {"classes": [{"label": "cat"}]}),
        ]
        assert catalog.image_record(image_id + 1) is None
        with catalog.transaction():
            catalog.remove_paths(["/p/a.jpg", "/p/b.jpg"])
        assert catalog.image_record(image_id) is None  # no file shows it any more


def test_index_runs_record_their_folders_as_library_roots(catalog_location, photo_folder, describer, embedder):
    from lucida.indexer import index_paths

    one_file = next(photo_folder.glob("*.jpg"))
    with open_catalog(catalog_location) as catalog:
        assert catalog.roots() == []
        index_paths(catalog, [str(photo_folder), str(one_file)], describer, embedder)
        index_paths(catalog, [str(photo_folder)], describer, embedder)
        assert catalog.roots() == [str(photo_folder)]  # folders only, each once


def test_a_first_version_catalog_gains_library_roots(tmp_path):
    with sqlite3.connect(tmp_path / "c.db") as db:
        db.executescript(MIGRATIONS[0].sql)
        db.execute("INSERT INTO settings (key, value) VALUES ('describer', 'd')")
        db.execute("PRAGMA user_version = 1")
    with Catalog.open(tmp_path / "c.db") as catalog:
        assert catalog.roots() == [] and catalog.get_setting("describer") == "d"
        with catalog.transaction():
            catalog.add_root("/photos")
        assert catalog.roots() == ["/photos"]


def test_the_sqlite_catalog_implements_the_storage_protocol():
    import inspect

    from lucida.catalog import CatalogStore

    operations = [n for n, v in vars(CatalogStore).items() if callable(v) and not n.startswith("_")]
    assert len(operations) > 40
    for name in operations:
        expected = list(inspect.signature(getattr(CatalogStore, name)).parameters)
        assert list(inspect.signature(getattr(Catalog, name)).parameters) == expected, name


def test_word_search_takes_words_so_fts5_syntax_in_a_query_is_only_words(catalog_location):
    with open_catalog(catalog_location) as catalog:
        image_id = add_photo(catalog, "/p/a.jpg", "h1", 'a "near" sign reads NOT AND')
        add_photo(catalog, "/p/b.jpg", "h2", "a red car")
        descriptions, images = catalog.description_images()
        for words in (["near", 'x"y'], ["not", "and"], ['"']):
            holding = catalog.descriptions_holding(words, False)
            assert images[np.isin(descriptions, holding)].tolist() == ([image_id] if words != ['"'] else [])
        assert catalog.descriptions_holding(["red", "sign"], True).tolist() == []
        assert len(catalog.descriptions_holding(["near", "sign"], True)) == 1
        assert catalog.matched_words([image_id], ["near", "nothing"])[image_id][0] == ["near"]


def test_matched_words_are_the_words_the_catalog_finds(catalog_location):
    # The page's matched words are found apart from the catalog's own word index (SQLite: in a
    # table in memory); they must be found in exactly the photos that index finds, stemmed and
    # folded as it does.
    texts = [
        "Two dogs running on the beach at sunset",
        "a dog runs; CAFÉ terrace, night",
        "cafe and café, a street at night",
        "tabby cat (a cat with a grey coat)",
        "red car, parked",
    ]
    with open_catalog(catalog_location) as catalog:
        ids = [add_photo(catalog, f"/p/{n}.jpg", f"h{n}", text) for n, text in enumerate(texts)]
        descriptions, images = catalog.description_images()
        for words in (["dog"], ["dogs", "night"], ["running"], ["cafe"], ["cats"], ["car", "sunset"], ["nothing"]):
            matched = catalog.matched_words(ids, words)
            holding = images[np.isin(descriptions, catalog.descriptions_holding(words, every=False))]
            assert sorted(matched) == sorted(holding.tolist()), words
        dogs = catalog.matched_words(ids, ["dogs"])
        assert dogs[ids[0]][0] == ["dogs"] and dogs[ids[1]][0] == ["dog"]
        assert catalog.matched_words(ids, ["cafe"])[ids[2]][0][:2] == ["cafe", "café"]
        assert catalog.matched_words([ids[1]], ["cafe", "run"])[ids[1]][0] == ["runs", "CAFÉ"]


def test_every_write_a_search_is_built_from_advances_the_search_generation(catalog_location):
    # The search index's copy beside the catalog is valid for one generation (lucida.search_index).
    with open_catalog(catalog_location) as catalog:
        seen = [catalog.search_generation()]

        def advanced() -> bool:
            seen.append(catalog.search_generation())
            return seen[-1] > seen[-2]

        image_id = add_photo(catalog, "/p/a.jpg", "h1", "a red car")
        assert advanced()  # description, embedding, file
        description_id = catalog.put_description(image_id, "d2", "", "a car")
        assert advanced()
        catalog.put_embedding(description_id, "e", unit(0.0, 1.0))
        assert advanced()
        catalog.put_embedding(description_id, "e", unit(1.0, 0.0))  # replaced in place
        assert advanced()
        catalog.put_class_mixture(description_id, "e", unit(1.0, 0.0))
        assert advanced()
        catalog.put_text_vectors("e", {"car: a motor vehicle": unit(1.0, 0.0)})
        assert advanced()
        catalog.put_file("/p/b.jpg", 1, 1, image_id)
        assert advanced()
        catalog.remove_paths(["/p/b.jpg"])
        assert advanced()
        catalog.delete_description(image_id, "d2")
        assert advanced()
        catalog.set_setting("unrelated", "x")  # not what a search is built from
        assert not advanced()


def test_the_postgresql_catalog_implements_the_storage_protocol():
    import inspect

    from lucida.catalog import CatalogStore
    from lucida.catalog.postgres import PostgresCatalog

    operations = [n for n, v in vars(CatalogStore).items() if callable(v) and not n.startswith("_")]
    for name in operations:
        expected = list(inspect.signature(getattr(CatalogStore, name)).parameters)
        assert list(inspect.signature(getattr(PostgresCatalog, name)).parameters) == expected, name


def test_a_postgresql_catalog_is_versioned_and_refuses_a_newer_schema(postgres):
    import psycopg

    from lucida.catalog import postgres as backend

    url = postgres.new_database()
    with pytest.raises(LucidaError, match="no lucida catalog in"):
        open_catalog(url, create=False)
    with open_catalog(url) as catalog:
        assert catalog.location == url
        assert all(why for _, why, _ in backend.MIGRATIONS), "every migration says why it exists"
    with open_catalog(url, create=False):  # a second process finds the schema made, and current
        pass
    with psycopg.connect(url, autocommit=True) as db:
        assert db.execute("SELECT version FROM lucida_schema").fetchone()[0] == backend.LATEST_VERSION
        db.execute("UPDATE lucida_schema SET version = version + 1")
    with pytest.raises(LucidaError, match="newer than this lucida"):
        open_catalog(url)


def test_a_password_never_shows_in_what_lucida_prints(postgres):
    from lucida.catalog_location import shown_url

    assert shown_url("postgresql://ann:s3cret@db.example:5432/photos") == "postgresql://ann@db.example:5432/photos"
    url = postgres.url("no_such_database").replace("lucida@", "lucida:s3cret@")
    with pytest.raises(LucidaError, match="^cannot reach the catalog database postgresql://lucida@127") as raised:
        open_catalog(url)
    assert "s3cret" not in str(raised.value) and "\n" not in str(raised.value)


# A library with what makes filters hard: folders whose names start alike, files without
# metadata, RAW+JPEG pairs whose files disagree, capture times only in the image.
_FOLDERS = ["/lib/trip", "/lib/trip2", "/lib/trip-old", "/lib/trip/sub", "/lib/tripé", "/lib/Trip", "/other"]
_CAMERAS = [("FUJIFILM", "X100V"), ("FUJIFILM", "X-T5"), ("Canon", "Canon EOS R5"), ("NIKON CORPORATION", "NIKON Z 6"), (None, "X100V"), ("Apple", None)]
_LENSES = [None, "XF23mmF2 R WR", "RF100-500mm F4.5-7.1 L IS USM", "NIKKOR Z 24-70mm f/4 S", "100%_macro"]


def _random_library(catalog: Catalog, seed: int = 7) -> dict[str, tuple[int, str | None, object]]:
    """path -> (image id, the image's capture time, the file's PhotoMetadata or None)."""
    from lucida.metadata import PhotoMetadata

    rng = np.random.default_rng(seed)
    pick = lambda values: values[int(rng.integers(len(values)))]  # noqa: E731
    files = {}
    with catalog.transaction():
        for n in range(240):
            image_taken = pick([None, "2019-06-30T23:59:59", "2019-07-01T00:00:00", "2021-02-03T10:00:00", "2024-12-31T08:00:00"])
            image_id = catalog.add_image(f"hash{n}", 10, 10, image_taken)
            paths = [f"{pick(_FOLDERS)}/IMG_{n:04d}{pick(['.JPG', '.jpeg', '.HEIC'])}"]
            if rng.random() < 0.2:  # its RAW beside it
                paths.append(paths[0].rsplit(".", 1)[0] + pick([".RAF", ".cr3"]))
            for path in paths:
                catalog.put_file(path, 1, 1, image_id)
                if rng.random() < 0.15:
                    files[path] = (image_id, image_taken, None)
                    continue
                make, model = pick(_CAMERAS)
                metadata = PhotoMetadata(
                    taken_at=pick([None, "2019-06-15T12:00:00+02:00", "2019-07-01T00:00:00", "2021-02-03T10:00:00", "2023-05-05T05:05:05"]),
                    make=make, model=model, lens=pick(_LENSES),
                    focal_length=pick([None, 23.0, 35.0, 70.0, 400.0]),
                    rating=pick([None, -1, 0, 3, 4, 5]), label=pick([None, "Red", "red", "Blue", ""]),
                    latitude=pick([None, 48.85]), longitude=pick([None, 2.35]),
                )  # fmt: skip
                catalog.put_metadata(path, metadata, "")
                files[path] = (image_id, image_taken, metadata)
    return files


def _passes(path: str, image_taken: str | None, m, f) -> bool:
    """The filter's definition, written plainly (lucida.catalog.filter.PhotoFilter)."""
    taken = (m.taken_at if m is not None and m.taken_at else None) or image_taken
    if (f.taken_from or f.taken_before) and taken is None:
        return False
    if f.taken_from and not taken >= f.taken_from or f.taken_before and not taken < f.taken_before:
        return False
    if f.folder and not path.startswith(f.folder.rstrip("/") + "/"):
        return False
    if f.extensions and not any(path.lower().endswith(e) for e in f.extensions):
        return False
    if f.camera or f.lens or f.focal_min is not None or f.focal_max is not None or f.min_rating is not None or f.label or f.has_gps:
        if m is None:
            return False
        camera = f"{m.make or ''} {m.model or ''}".lower()
        if not all(word in camera for word in (f.camera or "").lower().split()):
            return False
        if not all(m.lens and word in m.lens.lower() for word in (f.lens or "").lower().split()):
            return False
        if f.focal_min is not None and not (m.focal_length is not None and m.focal_length >= f.focal_min - 0.05):
            return False
        if f.focal_max is not None and not (m.focal_length is not None and m.focal_length <= f.focal_max + 0.05):
            return False
        if f.min_rating is not None and not (m.rating is not None and m.rating >= f.min_rating):
            return False
        if f.label and (m.label or "").lower() != f.label.lower():
            return False
        if f.has_gps and (m.latitude is None or m.longitude is None):
            return False
    return True


def test_filtered_image_ids_are_exactly_the_filters_definition(catalog_location):
    """The filter's SQL reaches the passing photos through indexes (migration 9) and narrowing
    subqueries; on a library built to trip them, it returns exactly what the definition says."""
    from lucida.catalog.filter import PhotoFilter

    filters = [
        PhotoFilter(camera="x100v"), PhotoFilter(camera="fujifilm"), PhotoFilter(camera="FUJIFILM x100v"),
        PhotoFilter(camera="canon r5"), PhotoFilter(camera="z 6"), PhotoFilter(camera="apple"), PhotoFilter(camera="leica"),
        PhotoFilter(lens="xf23"), PhotoFilter(lens="24-70 nikkor"), PhotoFilter(lens="100%_"), PhotoFilter(lens="_"),
        PhotoFilter(label="RED"), PhotoFilter(label="blue"), PhotoFilter(min_rating=4), PhotoFilter(min_rating=-1),
        PhotoFilter(focal_min=30, focal_max=80), PhotoFilter(focal_max=23), PhotoFilter(has_gps=True),
        PhotoFilter(taken_from="2019-07"), PhotoFilter(taken_before="2019-07"),
        PhotoFilter(taken_from="2019-06", taken_before="2019-07"), PhotoFilter(taken_from="2021", taken_before="2022"),
        PhotoFilter(folder="/lib/trip"), PhotoFilter(folder="/lib/trip/"), PhotoFilter(folder="/lib/tri"),
        PhotoFilter(folder="/lib"), PhotoFilter(folder="/lib/Trip"), PhotoFilter(folder="/lib/tripé"),
        PhotoFilter(extensions=frozenset({".raf", ".cr3"})), PhotoFilter(extensions=frozenset({".jpg"})),
        PhotoFilter(extensions=frozenset({".jpg", ".jpeg", ".heic"})), PhotoFilter(extensions=frozenset({".peg"})),
        PhotoFilter(camera="fujifilm", taken_from="2019-06", taken_before="2021-03", folder="/lib/trip"),
        PhotoFilter(camera="x100v", min_rating=3, label="red"), PhotoFilter(lens="nikkor", has_gps=True, focal_min=30),
        PhotoFilter(taken_from="2019", folder="/lib/trip2", extensions=frozenset({".jpg"})),
    ]  # fmt: skip
    with open_catalog(catalog_location) as catalog:
        files = _random_library(catalog)
        for photo_filter in filters:
            expected = sorted({image_id for path, (image_id, taken, m) in files.items() if _passes(path, taken, m, photo_filter)})
            assert sorted(catalog.filtered_image_ids(photo_filter)) == expected, photo_filter
        # Some filters let photos through and others none: the library exercises both.
        sizes = [len(catalog.filtered_image_ids(f)) for f in filters]
        assert min(sizes) == 0 and max(sizes) > 100


def test_a_filter_asked_again_sees_every_write(catalog_location):
    """A filter's answer is kept for the next page, but never past a write: this connection's
    or another's."""
    from dataclasses import replace as replaced

    from lucida.catalog.filter import PhotoFilter

    best = PhotoFilter(min_rating=5)
    with open_catalog(catalog_location) as catalog:
        files = _random_library(catalog)

        def expected():
            return sorted({i for path, (i, taken, m) in files.items() if _passes(path, taken, m, best)})

        assert sorted(catalog.filtered_image_ids(best)) == expected()
        assert sorted(catalog.filtered_image_ids(best)) == expected()  # asked again: the same
        # A photo rated 5 by this connection...
        path, (image_id, taken, metadata) = next((p, v) for p, v in files.items() if v[2] is not None and v[2].rating != 5)
        files[path] = (image_id, taken, replaced(metadata, rating=5))
        catalog.put_metadata(path, files[path][2], "")
        assert image_id in catalog.filtered_image_ids(best)
        assert sorted(catalog.filtered_image_ids(best)) == expected()
        # ...and one un-rated by another connection.
        path, (image_id, taken, metadata) = next((p, v) for p, v in files.items() if v[2] is not None and v[2].rating == 5)
        files[path] = (image_id, taken, replaced(metadata, rating=1))
        with open_catalog(catalog_location) as other:
            other.put_metadata(path, files[path][2], "")
        assert sorted(catalog.filtered_image_ids(best)) == expected()
        # A file removed by this connection.
        gone = next(p for p, v in files.items() if v[0] in expected())
        catalog.remove_paths([gone])
        del files[gone]
        assert sorted(catalog.filtered_image_ids(best)) == expected()

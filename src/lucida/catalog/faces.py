"""SQLite access for faces and people (migration 8): part of the catalog, kept in its own module.

Which person a face shows is the view face_people: the name given to the face itself, else the
name its cluster carries (a split-off face only its own); faces marked "not a person" are in no
person. Every query below that asks who is in a photo reads that view.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True)
class StoredFace:
    id: int
    image_id: int
    box: tuple[float, float, float, float]  # left, top, width, height: fractions of the photo as displayed
    score: float
    finder: str
    cluster: int | None
    person: str | None  # who the face shows (face_people), None when unnamed
    named_by: str | None  # 'user' or 'metadata' when a name was given to this very face


@dataclass(frozen=True)
class PersonGroup:
    """A row of `lucida people`: a named person (all their faces), or an unnamed cluster."""

    name: str | None
    cluster: int | None  # the unnamed cluster; for a person, the cluster holding most of their faces
    faces: int
    photos: int
    sample_face: int  # the face shown for the group: its highest detector score
    sample_image: int


@dataclass(frozen=True)
class FaceCounts:
    scanned: int  # photos read by a face finder
    faces: int
    people: int  # named
    clusters: int  # unnamed, with faces
    failed: int  # photos a face finder could not read


# A photo read again replaces what the last read recorded.
_SCAN_UPSERT = (
    "ON CONFLICT (image_id) DO UPDATE SET finder = excluded.finder, faces = excluded.faces, "
    "error = excluded.error, at = excluded.at"
)


def _blob(vector: np.ndarray) -> bytes:
    return np.asarray(vector, dtype="<f4").tobytes()


class FaceStore:
    """The catalog's faces and people. Mixed into Catalog, whose connection it uses."""

    _db: object  # sqlite3.Connection, from Catalog
    _out: Callable[[str], str]  # a stored path as this machine's, from Catalog

    # -- finding ---------------------------------------------------------------------------

    def images_to_scan_for_faces(self) -> list[tuple[int, str]]:
        """(image id, a path to read it from) of every image with a file that no face finder
        has read yet, or that one failed to read (tried again), in id order."""
        return [(i, self._out(p)) for i, p in self._db.execute(
            "SELECT f.image_id, min(f.path) FROM files f "
            "WHERE NOT EXISTS (SELECT 1 FROM face_scans s WHERE s.image_id = f.image_id AND s.error IS NULL) "
            "GROUP BY f.image_id ORDER BY f.image_id"
        )]  # fmt: skip

    def put_faces(self, image_id: int, finder: str, faces: Iterable[tuple[tuple, float, np.ndarray, str]]) -> list[int]:
        """Store what `finder` found in one photo ((box, score, descriptor, the face's own finder)
        each: a face described where a named region says is the metadata's) and mark the photo
        read; the ids of the new faces."""
        ids = [
            self._db.execute(
                "INSERT INTO faces (image_id, finder, x, y, w, h, score, descriptor) VALUES (?, ?, ?, ?, ?, ?, ?, ?) RETURNING id",
                (image_id, face_finder, *map(float, box), float(score), _blob(descriptor)),
            ).fetchone()[0]
            for box, score, descriptor, face_finder in faces
        ]
        self._db.execute(
            f"INSERT INTO face_scans (image_id, finder, faces, error, at) VALUES (?, ?, ?, NULL, ?) {_SCAN_UPSERT}",
            (image_id, finder, len(ids), time.time()),
        )
        return ids

    def record_face_scan_failure(self, image_id: int, finder: str, error: str) -> None:
        self._db.execute(
            f"INSERT INTO face_scans (image_id, finder, faces, error, at) VALUES (?, ?, 0, ?, ?) {_SCAN_UPSERT}",
            (image_id, finder, error, time.time()),
        )

    def face_scan_failures(self) -> list[tuple[str, str]]:
        """(a path, why) of the photos a face finder could not read."""
        return sorted((self._out(p), error) for p, error in self._db.execute(
            "SELECT (SELECT min(path) FROM files f WHERE f.image_id = s.image_id), s.error FROM face_scans s "
            "WHERE s.error IS NOT NULL AND EXISTS (SELECT 1 FROM files f WHERE f.image_id = s.image_id)"
        ))  # fmt: skip

    def named_regions(self, image_id: int) -> list[dict]:
        """The named face regions the metadata of the image's files holds (MWG regions, as
        Lightroom writes them): dicts with name and box (left, top, width, height fractions)."""
        found: dict[str, dict] = {}
        for (regions,) in self._db.execute(
            "SELECT m.face_regions FROM files f JOIN file_metadata m ON m.path = f.path WHERE f.image_id = ? ORDER BY f.path",
            (image_id,),
        ):
            for region in json.loads(regions or "[]"):
                found.setdefault(region["name"].casefold(), region)
        return list(found.values())

    def images_with_named_regions(self) -> list[int]:
        """The images with a file whose metadata names a face region."""
        return [
            i
            for (i,) in self._db.execute(
                "SELECT DISTINCT f.image_id FROM files f JOIN file_metadata m ON m.path = f.path "
                "WHERE m.face_regions != '[]' ORDER BY f.image_id"
            )
        ]

    # -- clusters --------------------------------------------------------------------------

    def face_descriptors(self, which: str = "clustered") -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """(face ids, cluster ids, descriptors) of the faces that are people ('clustered': those
        in a cluster; 'unclustered': those in none, by id; 'all'), never those marked not a
        person. Cluster ids are -1 where there is none."""
        where = {"clustered": "cluster IS NOT NULL", "unclustered": "cluster IS NULL", "all": "TRUE"}[which]
        rows = self._db.execute(
            f"SELECT id, coalesce(cluster, -1), descriptor FROM faces WHERE ignored = 0 AND {where} ORDER BY id"
        ).fetchall()
        ids = np.fromiter((r[0] for r in rows), dtype=np.int64, count=len(rows))
        clusters = np.fromiter((r[1] for r in rows), dtype=np.int64, count=len(rows))
        vectors = np.frombuffer(b"".join(r[2] for r in rows), dtype="<f4").reshape(len(rows), -1) if rows else np.zeros((0, 128), np.float32)
        return ids, clusters, vectors

    def face_images(self) -> dict[int, int]:
        """face id -> the image it is in, for every face that is a person (face_descriptors('all'))."""
        return dict(self._db.execute("SELECT id, image_id FROM faces WHERE ignored = 0"))

    def pinned_faces(self) -> set[int]:
        return {i for (i,) in self._db.execute("SELECT id FROM faces WHERE pinned = 1 AND ignored = 0")}

    def new_cluster(self) -> int:
        return self._db.execute("INSERT INTO clusters (person_id) VALUES (NULL) RETURNING id").fetchone()[0]

    def put_clusters(self, face_ids: Iterable[int], clusters: Iterable[int]) -> None:
        self._db.executemany("UPDATE faces SET cluster = ? WHERE id = ?", [(int(c), int(f)) for f, c in zip(face_ids, clusters)])

    def clear_clusters(self) -> None:
        """Forget every cluster (before clustering again); names stay on their faces."""
        self._db.execute("UPDATE faces SET cluster = NULL")
        self._db.execute("DELETE FROM clusters")

    def settle_cluster_people(self) -> None:
        """Each cluster takes the person most of its named faces carry (ties: the person named
        first); empty clusters go. Run after anything that moves faces or names."""
        self._db.execute("DELETE FROM clusters WHERE NOT EXISTS (SELECT 1 FROM faces f WHERE f.cluster = clusters.id)")
        self._db.execute(
            "UPDATE clusters SET person_id = (SELECT f.person_id FROM faces f WHERE f.cluster = clusters.id "
            "AND f.person_id IS NOT NULL AND f.ignored = 0 AND f.pinned = 0 "
            "GROUP BY f.person_id ORDER BY count(*) DESC, f.person_id LIMIT 1)"
        )
        self._db.execute("DELETE FROM people WHERE NOT EXISTS (SELECT 1 FROM faces f WHERE f.person_id = people.id)")

    # -- people ----------------------------------------------------------------------------

    def person_id(self, name: str, create: bool = False) -> int | None:
        row = self._db.execute("SELECT id FROM people WHERE name = ?", (name,)).fetchone()
        if row:
            return row[0]
        if not create:
            return None
        return self._db.execute("INSERT INTO people (name, created_at) VALUES (?, ?) RETURNING id", (name, time.time())).fetchone()[0]

    def person_names(self) -> list[str]:
        """The names of the people with a face, as the user wrote them."""
        return [
            n
            for (n,) in self._db.execute(
                "SELECT p.name FROM people p WHERE EXISTS (SELECT 1 FROM face_people fp WHERE fp.person_id = p.id) ORDER BY p.name"
            )
        ]

    def rename_person(self, person_id: int, name: str) -> None:
        self._db.execute("UPDATE people SET name = ? WHERE id = ?", (name, person_id))

    def name_faces(self, face_ids: Iterable[int], person_id: int | None, named_by: str | None = "user") -> None:
        self._db.executemany(
            "UPDATE faces SET person_id = ?, named_by = ? WHERE id = ?",
            [(person_id, named_by if person_id is not None else None, int(f)) for f in face_ids],
        )

    def move_names(self, from_person: int, to_person: int) -> None:
        """Every face named `from_person` is named `to_person` instead (two names for one person)."""
        self._db.execute("UPDATE faces SET person_id = ? WHERE person_id = ?", (to_person, from_person))

    def cluster_faces(self, cluster: int) -> list[int]:
        return [i for (i,) in self._db.execute("SELECT id FROM faces WHERE cluster = ? AND ignored = 0 ORDER BY id", (cluster,))]

    def person_faces(self, person_id: int) -> list[int]:
        """The faces that show this person (face_people)."""
        return [i for (i,) in self._db.execute("SELECT face_id FROM face_people WHERE person_id = ? ORDER BY face_id", (person_id,))]

    def split_face(self, face_id: int, cluster: int) -> None:
        """The face leaves its cluster and name for `cluster` (a new one), pinned there."""
        self._db.execute(
            "UPDATE faces SET cluster = ?, person_id = NULL, named_by = NULL, pinned = 1 WHERE id = ?", (cluster, face_id)
        )

    def ignore_faces(self, face_ids: Iterable[int]) -> None:
        """Not a person: out of every cluster and name, never clustered again."""
        self._db.executemany(
            "UPDATE faces SET ignored = 1, cluster = NULL, person_id = NULL, named_by = NULL WHERE id = ?",
            [(int(f),) for f in face_ids],
        )

    def delete_faces(self, face_ids: Iterable[int]) -> None:
        """Remove faces, their boxes and descriptors; their photos stay read, so they are not
        found again."""
        self._db.executemany("DELETE FROM faces WHERE id = ?", [(int(f),) for f in face_ids])

    # -- reading ---------------------------------------------------------------------------

    def face(self, face_id: int) -> StoredFace | None:
        rows = self._faces("f.id = ?", (face_id,))
        return rows[0] if rows else None

    def faces_in(self, image_id: int) -> list[StoredFace]:
        """The faces in one photo that are people, left to right."""
        return sorted(self._faces("f.image_id = ? AND f.ignored = 0", (image_id,)), key=lambda f: f.box[0])

    def _faces(self, where: str, values: tuple) -> list[StoredFace]:
        return [
            StoredFace(r[0], r[1], (r[2], r[3], r[4], r[5]), r[6], r[7], r[8], r[9], r[10])
            for r in self._db.execute(
                "SELECT f.id, f.image_id, f.x, f.y, f.w, f.h, f.score, f.finder, f.cluster, p.name, f.named_by "
                "FROM faces f LEFT JOIN face_people fp ON fp.face_id = f.id LEFT JOIN people p ON p.id = fp.person_id "
                f"WHERE {where}",
                values,
            )
        ]

    def person_groups(self) -> list[PersonGroup]:
        """Every named person, then every unnamed cluster, largest first."""
        groups: dict[tuple, dict] = {}
        for face_id, image_id, cluster, name, score in self._db.execute(
            "SELECT fp.face_id, fp.image_id, fp.cluster, p.name, f.score FROM face_people fp "
            "JOIN faces f ON f.id = fp.face_id LEFT JOIN people p ON p.id = fp.person_id "
            "WHERE fp.person_id IS NOT NULL OR fp.cluster IS NOT NULL ORDER BY fp.face_id"
        ):
            group = groups.setdefault((name, None) if name is not None else (None, cluster), {
                "faces": 0, "images": set(), "clusters": {}, "sample": (-np.inf, 0, 0),
            })  # fmt: skip
            group["faces"] += 1
            group["images"].add(image_id)
            if cluster is not None:
                group["clusters"][cluster] = group["clusters"].get(cluster, 0) + 1
            if score > group["sample"][0]:
                group["sample"] = (score, face_id, image_id)
        found = [
            PersonGroup(
                name,
                max(g["clusters"], key=lambda c: (g["clusters"][c], -c)) if g["clusters"] else None,
                g["faces"], len(g["images"]), g["sample"][1], g["sample"][2],
            )
            for (name, _), g in groups.items()
        ]  # fmt: skip
        return sorted(found, key=lambda g: (g.name is None, -g.faces, g.name or "", g.cluster or 0))

    def face_counts(self) -> FaceCounts:
        one = lambda sql: self._db.execute(sql).fetchone()[0]  # noqa: E731
        return FaceCounts(
            scanned=one("SELECT count(*) FROM face_scans WHERE error IS NULL"),
            faces=one("SELECT count(*) FROM face_people"),
            people=one("SELECT count(DISTINCT person_id) FROM face_people"),
            clusters=one("SELECT count(DISTINCT cluster) FROM face_people WHERE person_id IS NULL AND cluster IS NOT NULL"),
            failed=one("SELECT count(*) FROM face_scans WHERE error IS NOT NULL"),
        )

"""People: faces grouped into clusters, clusters named by the user, names found in a query.

- Clustering. A new face joins the cluster of its nearest clustered face when that face is within
  SAME_PERSON (Euclidean distance between dlib descriptors), else it starts a cluster of its own,
  so a new photo never re-clusters the library (a library's first faces are grouped as a whole). `recluster` groups every face again with dlib's
  Chinese whispers at the same threshold (pairwise precision and recall on a labelled set:
  docs/benchmarks.md, issue 16). Faces the user split off keep clusters of their own.
- Names. A name is stored on the faces it was given to (lucida.catalog.faces), so no clustering
  loses it; a cluster shows the name most of its named faces carry. Naming a cluster with a name
  another cluster has merges them in effect: both are that person.
- Queries. A named person in a query ("Grace Hopper in uniform", "Anna at the beach") restricts
  the results to photos of that person, and the rest of the query ranks them.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np

from lucida.catalog import Catalog
from lucida.errors import LucidaError

if TYPE_CHECKING:
    from lucida.catalog.faces import StoredFace

# Two faces closer than this (Euclidean, dlib descriptors) are one person. dlib's own figure for
# LFW is 0.6; on lucida's labelled set 0.5 keeps precision at 1.0 with the recall given in
# docs/benchmarks.md (bench/faces.py sweeps it).
SAME_PERSON = 0.5

# Words that join names in a query and mean nothing once the names are taken out of it.
_JOINING = {"and", "with", "&", "+", ",", "or", "of", "photos", "photo", "pictures", "picture"}


def assign_new_faces(catalog: Catalog, threshold: float = SAME_PERSON) -> int:
    """Put every face without a cluster into the cluster of its nearest clustered face within
    `threshold`, else into a cluster of its own (faces of one new run join each other too);
    the number of faces placed. When no face is clustered yet (a library's first run), the new
    faces are grouped as `recluster` would, by Chinese whispers. Call inside a transaction."""
    new_ids, _, new = catalog.face_descriptors("unclustered")
    if not len(new_ids):
        return 0
    _, known_clusters, known = catalog.face_descriptors("clustered")
    if not len(known):
        labels = cluster_labels(new, threshold)
        cluster_of_label = {int(label): catalog.new_cluster() for label in np.unique(labels)}
        catalog.put_clusters(new_ids.tolist(), [cluster_of_label[int(label)] for label in labels])
        catalog.settle_cluster_people()
        return len(new_ids)
    nearest_known, distance_known = _nearest(new, known)
    # The faces placed in this call, which `known` does not hold, in a matrix filled as they are.
    placed = np.empty_like(new, dtype=np.float32)
    placed_norms = np.empty(len(new), dtype=np.float32)
    assigned: list[int] = []
    for j, vector in enumerate(new.astype(np.float32)):
        cluster, best = None, threshold
        if nearest_known is not None and distance_known[j] <= best:
            cluster, best = int(known_clusters[nearest_known[j]]), distance_known[j]
        norm = float(vector @ vector)
        if j:
            squared = placed_norms[:j] + norm - 2.0 * (placed[:j] @ vector)
            i = int(np.argmin(squared))
            if np.sqrt(max(float(squared[i]), 0.0)) <= best:
                cluster = assigned[i]
        placed[j], placed_norms[j] = vector, norm
        assigned.append(cluster if cluster is not None else catalog.new_cluster())
    catalog.put_clusters(new_ids.tolist(), assigned)
    catalog.settle_cluster_people()
    return len(new_ids)


def _nearest(queries: np.ndarray, known: np.ndarray, block: int = 4096) -> tuple[np.ndarray | None, np.ndarray]:
    """Index of and distance to each query's nearest known vector, by blocks of known vectors."""
    if not len(known):
        return None, np.full(len(queries), np.inf)
    q = queries.astype(np.float32)
    q_norms = (q * q).sum(axis=1)
    best = np.full(len(q), np.inf, dtype=np.float32)
    where = np.zeros(len(q), dtype=np.int64)
    for start in range(0, len(known), block):
        part = known[start : start + block]
        squared = q_norms[:, None] + (part * part).sum(axis=1)[None, :] - 2.0 * (q @ part.T)
        i = squared.argmin(axis=1)
        d = squared[np.arange(len(q)), i]
        better = d < best
        best[better], where[better] = d[better], i[better] + start
    return where, np.sqrt(np.maximum(best, 0.0))


# Each face links to at most this many of its nearest faces within the threshold when faces are
# grouped as a whole. All pairs within it would grow with the square of one person's face count
# (9.4 M pairs, 16 s, when one person holds 4,000 of 10,000 faces); the nearest 64 keep
# a person's faces linked (docs/benchmarks.md, issue 16).
LINKS_PER_FACE = 64


def cluster_labels(
    descriptors: np.ndarray, threshold: float = SAME_PERSON, block: int = 2048, links: int = LINKS_PER_FACE
) -> np.ndarray:
    """A cluster label per descriptor: dlib's Chinese whispers over the graph that links each
    face to its `links` nearest faces closer than `threshold`. The pairs are found here, by blocks
    of matrix products (dlib's own chinese_whispers_clustering compares them one by one: 30 s for
    10,000 faces)."""
    if len(descriptors) < 2:
        return np.zeros(len(descriptors), dtype=np.int64)
    import dlib

    vectors = descriptors.astype(np.float32)
    norms = (vectors * vectors).sum(axis=1)
    limit = threshold * threshold
    nearest = links + 1  # + 1: a face is its own nearest
    pairs = []
    for start in range(0, len(vectors), block):
        part = vectors[start : start + block]
        squared = norms[start : start + block, None] + norms[None, :] - 2.0 * (part @ vectors.T)
        close = squared < limit
        crowded = close.sum(axis=1) > nearest
        # Most faces have fewer close faces than that: all of them are kept.
        rows, columns = np.nonzero(close & ~crowded[:, None])
        found = [(rows + start, columns)]
        if crowded.any():  # the faces of a person with many: the nearest only
            heavy = np.flatnonzero(crowded)
            columns = np.argpartition(squared[heavy], nearest - 1, axis=1)[:, :nearest]
            keep = np.take_along_axis(squared[heavy], columns, axis=1) < limit
            found.append((np.broadcast_to(heavy[:, None] + start, columns.shape)[keep], columns[keep]))
        for rows, columns in found:
            linked = rows != columns
            pairs.append(np.sort(np.stack([rows[linked], columns[linked]], axis=1), axis=1))
    # A pair found from both ends is one edge; every face is a vertex, as in dlib's own.
    unique = np.unique(np.concatenate(pairs), axis=0)
    edges = [(i, i) for i in range(len(vectors))]
    edges.extend(zip(unique[:, 0].tolist(), unique[:, 1].tolist()))
    return np.asarray(dlib.chinese_whispers(edges), dtype=np.int64)


def recluster(catalog: Catalog, threshold: float = SAME_PERSON) -> int:
    """Group every face again from scratch; names stay on their faces. The number of clusters."""
    face_ids, _, descriptors = catalog.face_descriptors("all")
    pinned = catalog.pinned_faces()
    free = np.array([i not in pinned for i in face_ids.tolist()], dtype=bool)
    labels = cluster_labels(descriptors[free], threshold)
    with catalog.transaction():
        catalog.clear_clusters()
        cluster_of_label = {int(label): catalog.new_cluster() for label in np.unique(labels)}
        catalog.put_clusters(face_ids[free].tolist(), [cluster_of_label[int(label)] for label in labels])
        own = [catalog.new_cluster() for _ in range(int((~free).sum()))]
        catalog.put_clusters(face_ids[~free].tolist(), own)
        catalog.settle_cluster_people()
    return len(cluster_of_label) + len(own)


def face_neighbours(catalog: Catalog, face_id: int) -> list[tuple[int, float]]:
    """(image id, similarity) of every photo with a face, by the similarity of its nearest face
    to this one (1 - Euclidean distance, floored at 0), best first; only photos within 2 ×
    SAME_PERSON, where any likeness ends."""
    ids, _, vectors = catalog.face_descriptors("all")
    where = np.flatnonzero(ids == face_id)
    if not len(where):
        return []
    distances = np.linalg.norm(vectors - vectors[where[0]], axis=1)
    images = catalog.face_images()
    best: dict[int, float] = {}
    for i in np.argsort(distances, kind="stable"):
        if distances[i] > 2 * SAME_PERSON:
            break
        best.setdefault(images[int(ids[i])], max(0.0, 1.0 - float(distances[i])))
    return list(best.items())


# -- naming --------------------------------------------------------------------------------


@dataclass(frozen=True)
class Group:
    """What a user's reference names: an unnamed cluster (by number) or a person (by name)."""

    cluster: int | None = None
    person_id: int | None = None
    label: str = ""

    def faces(self, catalog: Catalog) -> list[int]:
        if self.person_id is not None:
            return catalog.person_faces(self.person_id)
        return catalog.cluster_faces(self.cluster)  # type: ignore[arg-type]


def find_group(catalog: Catalog, reference: str) -> Group:
    """The cluster a number names, or the person a name names; a LucidaError when neither exists."""
    reference = reference.strip()
    if re.fullmatch(r"#?\d+", reference):
        cluster = int(reference.lstrip("#"))
        # Past a 64-bit id no group can have the number (and a database could not take it).
        if cluster >= 2**63 or not catalog.cluster_faces(cluster):
            raise LucidaError(f"there is no group of faces numbered {cluster}; `lucida people` lists them")
        return Group(cluster=cluster, label=f"#{cluster}")
    person = catalog.person_id(reference)
    if person is None or not catalog.person_faces(person):
        raise LucidaError(f"nobody is named {reference!r}; `lucida people` lists the people and their numbers")
    return Group(person_id=person, label=reference)


def checked_name(name: str) -> str:
    cleaned = " ".join(name.split())
    if not cleaned:
        raise LucidaError("a person's name cannot be empty")
    if re.fullmatch(r"#?\d+", cleaned):
        raise LucidaError(f"{name!r} is a number, which lucida reads as a group of faces; give a person a name with letters")
    if len(cleaned) > 200:
        raise LucidaError("a person's name is at most 200 characters")
    return cleaned


def name_group(catalog: Catalog, group: Group, name: str) -> int:
    """Give `name` to every face of the group; a name another group has makes them one person.
    Renaming a person keeps their faces. The number of faces named."""
    name = checked_name(name)
    with catalog.transaction():
        existing = catalog.person_id(name)
        if group.person_id is not None and (existing is None or existing == group.person_id):
            catalog.rename_person(group.person_id, name)
            return len(catalog.person_faces(group.person_id))
        person = catalog.person_id(name, create=True)
        faces = group.faces(catalog)
        if group.person_id is not None:  # a person renamed to another's name: one person now
            catalog.move_names(group.person_id, person)  # type: ignore[arg-type]
        catalog.name_faces(faces, person)
        catalog.settle_cluster_people()
    return len(faces)


def merge_groups(catalog: Catalog, into: Group, other: Group) -> int:
    """`other`'s faces join `into`: its cluster, and its name when it has one (else `other`'s
    name, if it had one). The number of faces moved."""
    with catalog.transaction():
        target_faces = into.faces(catalog)
        already = set(target_faces)
        moved = [f for f in other.faces(catalog) if f not in already]
        if not target_faces:
            return 0
        target = catalog.face(target_faces[0])
        cluster = target.cluster if target and target.cluster is not None else catalog.new_cluster()
        catalog.put_clusters(moved, [cluster] * len(moved))
        name = target.person if target else None
        if name is None and other.person_id is not None:
            name = catalog.face(moved[0]).person if moved else None  # type: ignore[union-attr]
        if name is not None:
            person = catalog.person_id(name, create=True)
            if other.person_id is not None and other.person_id != person:
                catalog.move_names(other.person_id, person)  # type: ignore[arg-type]
            catalog.name_faces(target_faces + moved, person)
        catalog.settle_cluster_people()
    return len(moved)


def split_face(catalog: Catalog, face_id: int) -> int:
    """A wrongly grouped face leaves its group and name for a group of its own, which
    re-clustering keeps. The new group's number."""
    with catalog.transaction():
        if catalog.face(face_id) is None:
            raise LucidaError(f"there is no face {face_id}; `lucida people show GROUP` lists faces with their numbers")
        cluster = catalog.new_cluster()
        catalog.split_face(face_id, cluster)
        catalog.settle_cluster_people()
    return cluster


def not_a_person(catalog: Catalog, face_ids: list[int]) -> int:
    """Faces that are not people (a statue, a poster, a false detection) leave every group."""
    with catalog.transaction():
        catalog.ignore_faces(face_ids)
        catalog.settle_cluster_people()
    return len(face_ids)


def forget_person(catalog: Catalog, name: str) -> list[StoredFace]:
    """Delete a person's faces (boxes and descriptors) and name from the catalog. Their photos
    stay read, so the faces are not found again. The faces deleted, as they were."""
    group = find_group(catalog, name)
    if group.person_id is None:
        raise LucidaError(f"{name!r} is a group number; forget takes a person's name")
    with catalog.transaction():
        faces = [f for f in (catalog.face(i) for i in catalog.person_faces(group.person_id)) if f is not None]
        catalog.delete_faces(f.id for f in faces)
        catalog.settle_cluster_people()
    return faces


# -- queries -------------------------------------------------------------------------------


def people_in_query(query: str, names: list[str]) -> tuple[tuple[str, ...], str | None]:
    """The named people a query mentions, and what is left of it to rank their photos by (None
    when nothing is). A full name matches in any case ("grace hopper"); a one-word name, or the
    first name of one person only, matches when written with its capital ("Grace in uniform"),
    so a person called Rose does not capture "a red rose". A possessive ("Anna's") counts."""
    found: list[str] = []
    rest = query
    firsts: dict[str, list[str]] = {}
    for name in names:
        firsts.setdefault(name.split()[0], []).append(name)
    for name in sorted(names, key=len, reverse=True):
        words = name.split()
        patterns = []
        if len(words) > 1:
            patterns.append(re.compile(rf"(?<!\w){re.escape(name)}(?:'s)?(?!\w)", re.IGNORECASE))
        if len(firsts.get(words[0], [])) == 1 and words[0][:1].isupper():
            patterns.append(re.compile(rf"(?<!\w){re.escape(words[0])}(?:'s)?(?!\w)"))
        for pattern in patterns:
            if pattern.search(rest):
                found.append(name)
                rest = pattern.sub(" ", rest)
                break
    if not found:
        return (), query
    remaining = [w for w in re.findall(r"[\w'&+-]+|,", rest) if w.lower() not in _JOINING]
    return tuple(found), " ".join(rest.split()) if remaining else None

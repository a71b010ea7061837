"""People (issue 16): how well lucida groups faces, what finding them costs, and what it misses.

Five parts, each runnable alone with --only:

- quality: a labelled face set from the real face photos available offline (bench/face_photos.py,
  scikit-image's astronaut, matplotlib's Grace Hopper) and "same person" variants of each photo
  (crops, a flip, rescales, brightness, small rotations, JPEG re-compression). Each photo is
  decoded as the faces tier decodes it and read by FaceModel.find; each detection is labelled by
  the known face it lands on. Then the distance distribution of same- and different-person
  pairs, and pairwise precision/recall of Chinese whispers (people.cluster_labels) and of the
  incremental assignment (people.assign_new_faces on a real temporary catalog, photos fed in a
  random order) over a sweep of thresholds. Variants of one photo are near-duplicates, so the
  harder views score only pairs of faces from different source photos.
- speed: 12 MP JPEGs with 0, 1 and 3 faces (real face photos upscaled, scenes with real faces
  pasted in); per photo, one thread: decode (read_photo, as the tier), detection, landmarks,
  descriptor; a decode that libjpeg can scale to 1/4; what a worker thread's models cost to
  make; whether dlib lets other Python threads run during its calls.
- tier: photos/s through the faces tier, find_faces, with 1 and 2 workers.
- sizes: real faces pasted at 2-12% of the long side into 4000x3000 scenes; the detection rate
  and time at DETECT_SIDE 1024 (lucida's), 2048 and full size.
- scale: 10,000 descriptors shaped like the real ones (spread, distances and norms measured on
  the labelled set); cluster_labels, recluster and assign_new_faces on a real catalog, and the
  cost of adding 100 faces to 10,000.

    python bench/faces.py --out bench/results/faces.json
    python bench/faces.py --only speed,tier --repeat 5
    python bench/faces.py --only quality,scale
"""

from __future__ import annotations

import argparse
import io
import math
import os
import pickle
import statistics
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from PIL import Image, ImageDraw, ImageEnhance, ImageFilter

from _common import load_average, machine, print_machine, write_out
from face_photos import IDENTITIES, face_photos

PARTS = ("quality", "speed", "tier", "sizes", "scale")
THRESHOLDS = [0.35, 0.40, 0.45, 0.50, 0.55, 0.60, 0.65]
WIDTH, HEIGHT = 4000, 3000
# The two partial-face photos of face_recognition's tests are crops of obama.jpg (checked pixel
# for pixel: offsets 419 and 0), so they are the same source photo.
SOURCE_OF = {"obama_partial_face.jpg": "obama.jpg", "obama_partial_face2.jpg": "obama.jpg"}
SIZES_PCT = [2, 3, 4, 5, 6, 8, 12]
SCENE_BACKGROUNDS = ["china", "coffee", "motorcycle", "rocket"]


def median_spread(values: list[float]) -> dict:
    return {"median": statistics.median(values), "min": min(values), "max": max(values), "runs": values}


def fmt(s: dict, scale: float = 1.0, digits: int = 1) -> str:
    return f"{s['median'] * scale:.{digits}f} ({s['min'] * scale:.{digits}f}-{s['max'] * scale:.{digits}f})"


def scratch_folder() -> str:
    """Catalogs for the quality sweeps live in RAM (hundreds of small commits; their fsyncs are not
    what is measured). The scale part uses the disk, as a real catalog does."""
    return "/dev/shm" if os.access("/dev/shm", os.W_OK) else tempfile.gettempdir()


# -- the real photos -----------------------------------------------------------------------


@dataclass
class SourcePhoto:
    name: str
    image: Image.Image
    identities: list[str]  # left to right
    source: str  # the photo it was cut from
    faces: list[tuple[float, float, float, float]]  # detector boxes in pixels (left, top, width, height), left to right


def source_photos(model) -> list[SourcePhoto]:
    """Every real face photo available offline, with its faces found by the model, left to right."""
    import matplotlib.cbook
    import skimage.data

    folder = face_photos()
    images = {name: Image.open(folder / name).convert("RGB") for name in IDENTITIES}
    images["astronaut.png"] = Image.fromarray(skimage.data.astronaut())
    with matplotlib.cbook.get_sample_data("grace_hopper.jpg") as handle:
        images["grace_hopper.jpg"] = Image.open(handle).convert("RGB")
    identities = dict(IDENTITIES, **{"astronaut.png": ["collins"], "grace_hopper.jpg": ["hopper"]})
    photos = []
    for name, image in images.items():
        found = model.find(image)
        if len(found) != len(identities[name]):
            raise SystemExit(f"{name}: {len(found)} faces found, {len(identities[name])} expected")
        boxes = sorted(
            ((f.box[0] * image.width, f.box[1] * image.height, f.box[2] * image.width, f.box[3] * image.height) for f in found),
            key=lambda b: b[0],
        )
        photos.append(SourcePhoto(name, image, identities[name], SOURCE_OF.get(name, name), boxes))
    return photos


def face_crop(photo: SourcePhoto, index: int) -> tuple[Image.Image, tuple[float, float, float, float]]:
    """A head-and-shoulders crop around one face, and the face's box inside it (pixels)."""
    x, y, w, h = photo.faces[index]
    cx, cy = x + w / 2, y + h / 2 - 0.1 * h
    half_w, half_h = 0.9 * w, 1.1 * h
    left, top = max(0, int(cx - half_w)), max(0, int(cy - half_h))
    right, bottom = min(photo.image.width, int(cx + half_w)), min(photo.image.height, int(cy + half_h))
    return photo.image.crop((left, top, right, bottom)), (x - left, y - top, w, h)


# -- part 1: the labelled set and clustering quality ----------------------------------------


@dataclass
class LabelledFace:
    identity: str
    source: str
    photo: str  # source photo and variant, e.g. "obama2.jpg:flip"
    variant: str
    box: tuple[float, float, float, float]
    score: float
    descriptor: np.ndarray


def _variants(photo: SourcePhoto) -> list[tuple[str, Image.Image, list[tuple[float, float, float]], str]]:
    """(variant, image, where each face's centre and width land in it, file format) for every
    "same person" variant of a photo."""
    image = photo.image
    faces = [(x + w / 2, y + h / 2, w) for x, y, w, h in photo.faces]
    out = [("original", image, faces, "png")]
    out.append(("flip", image.transpose(Image.Transpose.FLIP_LEFT_RIGHT), [(image.width - 1 - cx, cy, w) for cx, cy, w in faces], "png"))
    # Crops that keep every face: tight around the faces, and one that cuts 15% off each side
    # where that leaves the faces whole.
    left = min(x for x, _, _, _ in photo.faces)
    top = min(y for _, y, _, _ in photo.faces)
    right = max(x + w for x, _, w, _ in photo.faces)
    bottom = max(y + h for _, y, _, h in photo.faces)
    size = max(w for _, _, w, _ in photo.faces)
    for name, margin in (("crop_tight", 0.6 * size), ("crop_wide", None)):
        if margin is not None:
            box = (max(0, left - margin), max(0, top - margin), min(image.width, right + margin), min(image.height, bottom + margin))
        else:
            cut_x, cut_y = 0.15 * image.width, 0.15 * image.height
            box = (min(cut_x, left), min(cut_y, top), max(image.width - cut_x, right), max(image.height - cut_y, bottom))
        box = tuple(int(round(v)) for v in box)
        out.append((name, image.crop(box), [(cx - box[0], cy - box[1], w) for cx, cy, w in faces], "png"))
    for factor in (0.5, 1.5):
        size_wh = (round(image.width * factor), round(image.height * factor))
        out.append((f"scale_{factor}", image.resize(size_wh, Image.Resampling.LANCZOS), [(cx * factor, cy * factor, w * factor) for cx, cy, w in faces], "png"))
    for factor in (0.6, 1.4):
        out.append((f"brightness_{factor}", ImageEnhance.Brightness(image).enhance(factor), faces, "png"))
    for degrees in (7, -7):
        rotated = image.rotate(degrees, resample=Image.Resampling.BICUBIC, expand=True)
        t = math.radians(degrees)
        moved = []
        for cx, cy, w in faces:
            dx, dy = cx - image.width / 2, cy - image.height / 2
            moved.append((rotated.width / 2 + dx * math.cos(t) + dy * math.sin(t), rotated.height / 2 - dx * math.sin(t) + dy * math.cos(t), w))
        out.append((f"rotate_{degrees}", rotated, moved, "png"))
    out.append(("jpeg_q25", image, faces, "jpeg"))
    return out


def labelled_set(model, photos: list[SourcePhoto], folder: Path) -> tuple[list[LabelledFace], dict]:
    """Every variant written to a file, decoded as the faces tier decodes it (read_photo at the
    tier's side) and read by the model; each detection labelled by the known face whose centre
    is nearest, within half that face's width. Unmatched detections are false ones."""
    from lucida.describe import Unreadable, read_photo
    from lucida.faces import _DECODE_SIDE

    faces: list[LabelledFace] = []
    counts = {"photos": 0, "expected": 0, "found": 0, "missed": [], "false": []}
    for photo in photos:
        for variant, image, expected, kind in _variants(photo):
            path = folder / f"{photo.name.rsplit('.', 1)[0]}__{variant}.{'jpg' if kind == 'jpeg' else 'png'}"
            if kind == "jpeg":
                image.save(path, "JPEG", quality=25)
            else:
                image.save(path, "PNG")
            decoded = read_photo(str(path), _DECODE_SIDE)
            if isinstance(decoded, Unreadable):
                raise SystemExit(f"{path}: {decoded}")
            width, height = image.size
            found = model.find(decoded.image)
            centres = [((f.box[0] + f.box[2] / 2) * width, (f.box[1] + f.box[3] / 2) * height) for f in found]
            pairs = sorted(
                (math.dist(c, (ex, ey)), i, j) for i, c in enumerate(centres) for j, (ex, ey, _) in enumerate(expected)
            )
            used_found, used_expected = set(), set()
            for distance, i, j in pairs:
                if i in used_found or j in used_expected or distance > 0.5 * expected[j][2]:
                    continue
                used_found.add(i)
                used_expected.add(j)
                faces.append(
                    LabelledFace(photo.identities[j], photo.source, f"{photo.name}:{variant}", variant, found[i].box, found[i].score, found[i].descriptor)
                )
            counts["photos"] += 1
            counts["expected"] += len(expected)
            counts["found"] += len(used_expected)
            counts["missed"] += [f"{photo.name}:{variant}:{photo.identities[j]}" for j in range(len(expected)) if j not in used_expected]
            counts["false"] += [f"{photo.name}:{variant} score {found[i].score:.2f}" for i in range(len(found)) if i not in used_found]
    return faces, counts


def pair_masks(faces: list[LabelledFace]) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(same identity, different source photo, upper triangle) as n x n masks."""
    ids = np.array([f.identity for f in faces])
    sources = np.array([f.source for f in faces])
    upper = np.triu(np.ones((len(faces), len(faces)), dtype=bool), k=1)
    return ids[:, None] == ids[None, :], sources[:, None] != sources[None, :], upper


def distances(descriptors: np.ndarray) -> np.ndarray:
    d = descriptors.astype(np.float64)
    squared = (d * d).sum(1)[:, None] + (d * d).sum(1)[None, :] - 2 * d @ d.T
    return np.sqrt(np.maximum(squared, 0))


def distance_summary(values: np.ndarray) -> dict:
    if not len(values):
        return {"pairs": 0}
    q = np.percentile(values, [0, 5, 50, 95, 100])
    return {"pairs": int(len(values)), "min": q[0], "p5": q[1], "median": q[2], "p95": q[3], "max": q[4]}


def _extreme_pairs(faces: list[LabelledFace], d: np.ndarray, mask: np.ndarray, nearest: bool, count: int = 5) -> list[str]:
    """The `count` nearest (or farthest) pairs in `mask`, as text."""
    rows, cols = np.nonzero(mask)
    order = np.argsort(d[rows, cols])
    picked = order[:count] if nearest else order[::-1][:count]
    return [f"{d[rows[k], cols[k]]:.3f} {faces[rows[k]].photo}/{faces[rows[k]].identity} - {faces[cols[k]].photo}/{faces[cols[k]].identity}" for k in picked]


def pairwise_pr(labels: np.ndarray, same_id: np.ndarray, keep: np.ndarray) -> dict:
    """Pairwise precision and recall of a clustering over the pairs in `keep`."""
    same_cluster = labels[:, None] == labels[None, :]
    tp = int((same_cluster & same_id & keep).sum())
    fp = int((same_cluster & ~same_id & keep).sum())
    fn = int((~same_cluster & same_id & keep).sum())
    return {
        "precision": tp / (tp + fp) if tp + fp else 1.0,
        "recall": tp / (tp + fn) if tp + fn else float("nan"),
        "tp": tp, "fp": fp, "fn": fn,
    }  # fmt: skip


def chinese_whispers(descriptors: np.ndarray, threshold: float, seed: int) -> np.ndarray:
    """people.cluster_labels on the faces in a random order (its result depends on the order)."""
    from lucida.people import cluster_labels

    order = np.random.default_rng(seed).permutation(len(descriptors))
    labels = np.empty(len(descriptors), dtype=np.int64)
    labels[order] = cluster_labels(descriptors[order], threshold)
    return labels


def incremental(faces: list[LabelledFace], threshold: float, seed: int, batch_photos: int = 16) -> np.ndarray:
    """The clusters people.assign_new_faces makes on a real temporary catalog when the photos
    arrive in a random order, in batches of 16 photos as the faces tier stores them."""
    from lucida.catalog import Catalog
    from lucida.models.faces import FACE_FINDER
    from lucida.people import assign_new_faces

    by_photo: dict[str, list[int]] = {}
    for i, face in enumerate(faces):
        by_photo.setdefault(face.photo, []).append(i)
    photos = list(by_photo)
    order = [photos[i] for i in np.random.default_rng(seed).permutation(len(photos))]
    face_of_id: dict[int, int] = {}
    with tempfile.TemporaryDirectory(dir=scratch_folder()) as folder, Catalog.open(Path(folder) / "c.db") as catalog:
        for start in range(0, len(order), batch_photos):
            with catalog.transaction():
                for photo in order[start : start + batch_photos]:
                    image_id = catalog.add_image(f"bench:{photo}", None, None, None)
                    members = by_photo[photo]
                    ids = catalog.put_faces(
                        image_id, FACE_FINDER, [(faces[i].box, faces[i].score, faces[i].descriptor, FACE_FINDER) for i in members]
                    )
                    face_of_id.update(zip(ids, members))
                assign_new_faces(catalog, threshold)
        ids, clusters, _ = catalog.face_descriptors("all")
    labels = np.empty(len(faces), dtype=np.int64)
    for face_id, cluster in zip(ids.tolist(), clusters.tolist()):
        labels[face_of_id[face_id]] = cluster
    return labels


def sweep(faces: list[LabelledFace], seeds: int) -> dict:
    """Precision and recall per threshold, method and view, over `seeds` random orders."""
    descriptors = np.stack([f.descriptor for f in faces])
    same_id, cross_source, upper = pair_masks(faces)
    views = {"all pairs": upper, "cross-source pairs": upper & cross_source}
    result = {}
    for method in ("chinese_whispers", "incremental"):
        for threshold in THRESHOLDS:
            runs = []
            for seed in range(seeds):
                if method == "chinese_whispers":
                    labels = chinese_whispers(descriptors, threshold, seed)
                else:
                    labels = incremental(faces, threshold, seed)
                runs.append({view: pairwise_pr(labels, same_id, keep) for view, keep in views.items()} | {"clusters": int(len(np.unique(labels)))})
            row = {"clusters": [r["clusters"] for r in runs]}
            for view in views:
                row[view] = {
                    "precision": median_spread([r[view]["precision"] for r in runs]),
                    "recall": median_spread([r[view]["recall"] for r in runs]),
                    "fp_pairs": median_spread([r[view]["fp"] for r in runs]),
                }
            result[f"{method}@{threshold:.2f}"] = row
    return result


def quality(model, photos: list[SourcePhoto], seeds: int) -> tuple[dict, list[LabelledFace]]:
    with tempfile.TemporaryDirectory() as folder:
        faces, counts = labelled_set(model, photos, Path(folder))
    originals = [f for f in faces if f.variant == "original"]
    identities = sorted({f.identity for f in faces})
    print(
        f"\nlabelled set: {len(photos)} source photos ({len({p.source for p in photos})} distinct sources), "
        f"{counts['photos']} photos with variants, {len(identities)} identities, {counts['expected']} faces placed, "
        f"{counts['found']} found ({len(counts['missed'])} missed, {len(counts['false'])} false detections)"
    )
    print(f"  missed: {', '.join(counts['missed']) or 'none'}")
    print(f"  false: {', '.join(counts['false']) or 'none'}")
    per_identity = {i: sum(f.identity == i for f in faces) for i in identities}
    print("  faces per identity: " + ", ".join(f"{k} {v}" for k, v in per_identity.items()))

    descriptors = np.stack([f.descriptor for f in faces])
    norms = np.linalg.norm(descriptors, axis=1)
    d = distances(descriptors)
    same_id, cross_source, upper = pair_masks(faces)
    original_same, _, original_upper = pair_masks(originals)
    dist = {
        "same person, all pairs": distance_summary(d[upper & same_id]),
        "same person, different source photos": distance_summary(d[upper & same_id & cross_source]),
        "same person, same source photo (variants)": distance_summary(d[upper & same_id & ~cross_source]),
        "different people": distance_summary(d[upper & ~same_id]),
        "different people, originals only": distance_summary(
            distances(np.stack([f.descriptor for f in originals]))[original_upper & ~original_same]
        ),
    }
    closest = _extreme_pairs(faces, d, upper & ~same_id, nearest=True)
    farthest = _extreme_pairs(faces, d, upper & same_id & cross_source, nearest=False)
    print("closest different people: " + "; ".join(closest))
    print("farthest same person (different source photos): " + "; ".join(farthest))
    print(f"\ndescriptor norms: mean {norms.mean():.3f}, sd {norms.std():.3f}, min {norms.min():.3f}, max {norms.max():.3f}")
    print("distances (Euclidean):  pairs   min    p5  median   p95   max")
    for name, s in dist.items():
        print(f"  {name:45s} {s['pairs']:5d} {s['min']:.3f} {s['p5']:.3f} {s['median']:.3f} {s['p95']:.3f} {s['max']:.3f}")

    sweeps = {"labelled set": sweep(faces, seeds), "originals only": sweep(originals, seeds)}
    for name, table in sweeps.items():
        print(f"\n{name}: pairwise precision / recall, median of {seeds} orders (min-max)")
        for key, row in table.items():
            line = "  ".join(
                f"{view}: P {fmt(row[view]['precision'], digits=3)} R {fmt(row[view]['recall'], digits=3)}" for view in ("all pairs", "cross-source pairs")
            )
            print(f"  {key:24s} clusters {statistics.median(row['clusters']):5.0f}  {line}")
    return {
        "set": {
            "source_photos": [p.name for p in photos],
            "identities": per_identity,
            "photos": counts["photos"],
            "faces_placed": counts["expected"],
            "faces_found": counts["found"],
            "missed": counts["missed"],
            "false_detections": counts["false"],
            "originals": len(originals),
        },
        "norms": {"mean": float(norms.mean()), "sd": float(norms.std()), "min": float(norms.min()), "max": float(norms.max())},
        "distances": dist,
        "closest_different_people": closest,
        "farthest_same_person": farthest,
        "sweeps": sweeps,
    }, faces


# -- 12 MP photos ----------------------------------------------------------------------------


def background(name: str, rng: np.random.Generator) -> np.ndarray:
    """A real sample photo, cropped to 4:3 and upscaled to 4000x3000, as float pixels."""
    from lucida.samples import SAMPLE_PHOTOS

    [sample] = [s for s in SAMPLE_PHOTOS if s.name == name]
    image = Image.fromarray(sample.load()).convert("RGB")
    w, h = image.size
    cw, ch = (w, int(w * 3 / 4)) if w * 3 / 4 <= h else (int(h * 4 / 3), h)
    x, y = int(rng.integers(0, w - cw + 1)), int(rng.integers(0, h - ch + 1))
    return np.asarray(image.crop((x, y, x + cw, y + ch)).resize((WIDTH, HEIGHT), Image.Resampling.BICUBIC), dtype=np.float32)


def paste_face(canvas: np.ndarray, crop: Image.Image, box: tuple, centre: tuple[float, float], face_width: float) -> tuple:
    """Paste a face crop so its face box is `face_width` pixels wide and centred at `centre`,
    through a feathered ellipse; the face's box in the canvas (left, top, width, height)."""
    scale = face_width / box[2]
    size = (max(1, round(crop.width * scale)), max(1, round(crop.height * scale)))
    resized = crop.resize(size, Image.Resampling.LANCZOS)
    left = int(round(centre[0] - (box[0] + box[2] / 2) * scale))
    top = int(round(centre[1] - (box[1] + box[3] / 2) * scale))
    mask = Image.new("L", size, 0)
    inset = max(1, min(size) // 12)
    ImageDraw.Draw(mask).ellipse((inset, inset, size[0] - inset, size[1] - inset), fill=255)
    mask = mask.filter(ImageFilter.GaussianBlur(inset / 2))
    x0, y0 = max(left, 0), max(top, 0)
    x1, y1 = min(left + size[0], canvas.shape[1]), min(top + size[1], canvas.shape[0])
    alpha = np.asarray(mask, dtype=np.float32)[y0 - top : y1 - top, x0 - left : x1 - left, None] / 255
    pixels = np.asarray(resized, dtype=np.float32)[y0 - top : y1 - top, x0 - left : x1 - left]
    canvas[y0:y1, x0:x1] = canvas[y0:y1, x0:x1] * (1 - alpha) + pixels * alpha
    return (left + box[0] * scale, top + box[1] * scale, box[2] * scale, box[3] * scale)


def save_12mp(canvas: np.ndarray, path: Path, rng: np.random.Generator) -> None:
    """With sensor-like grain (as bench/index_throughput.py), so the file has a camera's size."""
    noisy = canvas + rng.normal(0, 7, size=canvas.shape).astype(np.float32)
    buffer = io.BytesIO()
    Image.fromarray(np.clip(noisy, 0, 255).astype(np.uint8)).save(buffer, "JPEG", quality=90)
    path.write_bytes(buffer.getvalue())


def face_pool(photos: list[SourcePhoto]) -> list[tuple[str, Image.Image, tuple]]:
    """Every distinct real face (the partial crops left out): name, head crop, box in the crop."""
    pool = []
    for photo in photos:
        if photo.name in SOURCE_OF:
            continue
        for i, identity in enumerate(photo.identities):
            crop, box = face_crop(photo, i)
            pool.append((identity, crop, box))
    return pool


def speed_photos(photos: list[SourcePhoto], folder: Path, seed: int) -> dict[int, list[Path]]:
    """12 MP JPEGs by faces in them: 0 (the scene backgrounds), 1 (the single-face photos
    upscaled to 4000x3000 or 3000x4000), 3 (scenes with three real faces at 10-14%)."""
    rng = np.random.default_rng(seed)
    folder.mkdir(parents=True, exist_ok=True)
    made: dict[int, list[Path]] = {0: [], 1: [], 3: []}
    for i, name in enumerate(SCENE_BACKGROUNDS + ["flower", "hubble"]):
        path = folder / f"none_{i}.jpg"
        if not path.exists():
            save_12mp(background(name, rng) if name in SCENE_BACKGROUNDS + ["flower"] else _hubble(rng), path, rng)
        made[0].append(path)
    singles = [p for p in photos if len(p.identities) == 1 and p.name not in SOURCE_OF and min(p.image.size) >= 400]
    for i, photo in enumerate(singles):
        path = folder / f"one_{i}.jpg"
        if not path.exists():
            w, h = photo.image.size
            target = (WIDTH, HEIGHT) if w >= h else (HEIGHT, WIDTH)
            ratio = target[0] / target[1]
            cw, ch = (w, int(w / ratio)) if w / ratio <= h else (int(h * ratio), h)
            x, y, fw, fh = photo.faces[0]
            left = int(min(max(x + fw / 2 - cw / 2, 0), w - cw))
            top = int(min(max(y + fh / 2 - ch / 2, 0), h - ch))
            image = photo.image.crop((left, top, left + cw, top + ch)).resize(target, Image.Resampling.BICUBIC)
            save_12mp(np.asarray(image, dtype=np.float32), path, rng)
        made[1].append(path)
    pool = face_pool(photos)
    for i in range(6):
        path = folder / f"three_{i}.jpg"
        if not path.exists():
            canvas = background(SCENE_BACKGROUNDS[i % len(SCENE_BACKGROUNDS)], rng)
            for k, cx in enumerate((800, 2000, 3200)):
                _, crop, box = pool[(3 * i + k) % len(pool)]
                paste_face(canvas, crop, box, (cx + rng.uniform(-150, 150), 1400 + rng.uniform(-300, 300)), WIDTH * rng.uniform(0.10, 0.14))
            save_12mp(canvas, path, rng)
        made[3].append(path)
    return made


def _hubble(rng: np.random.Generator) -> np.ndarray:
    """The Hubble deep field, 4:3 and 12 MP: a photo with many small bright blobs and no face."""
    import skimage.data

    image = Image.fromarray(skimage.data.hubble_deep_field()).convert("RGB")
    w, h = image.size
    return np.asarray(image.crop((0, 0, w, int(w * 3 / 4))).resize((WIDTH, HEIGHT), Image.Resampling.BICUBIC), dtype=np.float32)


# -- part 2: speed ---------------------------------------------------------------------------


def stage_times(model, path: Path) -> dict:
    """One photo through FaceModel.find's steps, timed one by one on this thread (the steps are
    the model's own: its decode size, its per-thread detector and landmark model, its network)."""
    import dlib

    from lucida.describe import read_photo
    from lucida.faces import _DECODE_SIDE
    from lucida.models.faces import MIN_SCORE, _pixels

    detector, landmarks = model._thread_models()
    t0 = time.perf_counter()
    photo = read_photo(str(path), _DECODE_SIDE)
    t1 = time.perf_counter()
    pixels, _ = _pixels(photo.image)
    t2 = time.perf_counter()
    rects, _, _ = detector.run(pixels, 0, MIN_SCORE)
    t3 = time.perf_counter()
    shapes = [landmarks(pixels, r) for r in rects]
    t4 = time.perf_counter()
    if shapes:
        model._network.compute_face_descriptor(pixels, dlib.full_object_detections(shapes))
    t5 = time.perf_counter()
    return {
        "faces": len(rects), "decode": t1 - t0, "to_pixels": t2 - t1, "detect": t3 - t2,
        "landmarks": t4 - t3, "descriptor": t5 - t4, "total": t5 - t0,
    }  # fmt: skip


def thread_setup_seconds() -> dict:
    """What each worker thread of a find_faces call pays before its first photo: FaceModel makes
    a detector and a landmark model per thread."""
    import dlib

    from lucida.models.faces import _model_folder

    detector, landmarks, copied = [], [], []
    for _ in range(3):
        t0 = time.perf_counter()
        made = dlib.get_frontal_face_detector()
        t1 = time.perf_counter()
        dlib.shape_predictor(str(_model_folder() / "shape_predictor_5_face_landmarks.dat"))
        t2 = time.perf_counter()
        pickle.loads(pickle.dumps(made))  # another way to a detector of one's own: a copy
        detector.append(t1 - t0)
        landmarks.append(t2 - t1)
        copied.append(time.perf_counter() - t2)
    return {"detector": median_spread(detector), "landmarks": median_spread(landmarks), "detector_copy": median_spread(copied)}


def decode_options(paths: list[Path], repeat: int) -> dict:
    """The tier's decode (shorter side 768: libjpeg's DCT scaling can only go to 1/2 for a
    4000x3000 JPEG) against a shorter side of 740, which allows 1/4 (1000x750 decoded)."""
    from lucida.describe import read_photo
    from lucida.faces import _DECODE_SIDE

    out = {}
    for side in (_DECODE_SIDE, 740):
        runs = []
        for _ in range(repeat):
            times = []
            for path in paths:
                t = time.perf_counter()
                read_photo(str(path), side)
                times.append(time.perf_counter() - t)
            runs.append(statistics.median(times))
        out[str(side)] = median_spread(runs)
    return out


def tier_run(model, paths: list[Path], workers: int) -> tuple[float, float, int]:
    """find_faces over the photos in a fresh catalog: (seconds, process CPU seconds, faces).
    Each call starts its own worker threads, which copy the model's detector and load their own
    landmark model."""
    from lucida.catalog import Catalog
    from lucida.faces import find_faces

    with tempfile.TemporaryDirectory() as folder, Catalog.open(Path(folder) / "c.db") as catalog:
        with catalog.transaction():
            for path in paths:
                image_id = catalog.add_image(f"bench:{path}", None, None, None)
                stat = path.stat()
                catalog.put_file(str(path), stat.st_size, stat.st_mtime_ns, image_id)
        cpu, started = time.process_time(), time.perf_counter()
        summary = find_faces(catalog, model, workers=workers)
        return time.perf_counter() - started, time.process_time() - cpu, summary.faces


def _link(path: Path, n: int) -> Path:
    if n == 0:
        return path
    linked = path.with_name(f"{path.stem}__{n}{path.suffix}")
    if not linked.exists():
        os.link(path, linked)
    return linked


def speed(model, photos: list[SourcePhoto], folder: Path, repeat: int) -> dict:
    made = speed_photos(photos, folder, seed=16)
    sizes = [p.stat().st_size for paths in made.values() for p in paths]
    print(f"\n12 MP photos: {sum(map(len, made.values()))} JPEGs, {statistics.mean(sizes) / 1e6:.1f} MB mean, in {folder}")
    for paths in made.values():  # warm: page cache, the threads' models
        for path in paths:
            stage_times(model, path)
    result: dict = {"photos": {str(k): [p.name for p in v] for k, v in made.items()}, "single_thread": {}}
    print(f"one thread, ms per photo: median over photos of each photo's median of {repeat} (min-max over photos); load {load_average()}")
    print("  faces  found   decode  to_pixels  detect  landmarks  descriptor  total   descriptor/face")
    for faces, paths in made.items():
        per_photo = []
        for path in paths:
            runs = [stage_times(model, path) for _ in range(repeat)]
            per_photo.append({k: statistics.median(r[k] for r in runs) for k in runs[0]})
        stages = {k: median_spread([p[k] for p in per_photo]) for k in per_photo[0] if k != "faces"}
        found = [int(p["faces"]) for p in per_photo]
        per_face = [p["descriptor"] / p["faces"] for p in per_photo if p["faces"]]
        stages["descriptor_per_face"] = median_spread(per_face) if per_face else None
        result["single_thread"][str(faces)] = {"faces_found": found, **stages}
        print(
            f"  {faces:5d}  {found}  " + "  ".join(fmt(stages[k], 1000) for k in ("decode", "to_pixels", "detect", "landmarks", "descriptor", "total"))
            + (f"  {fmt(stages['descriptor_per_face'], 1000)}" if per_face else "")
        )
    decodes = decode_options([p for v in made.values() for p in v], repeat)
    result["decode_options"] = decodes
    print("decode, median ms per photo over runs: " + ", ".join(f"shorter side {k}: {fmt(v, 1000)}" for k, v in decodes.items()))
    setup = thread_setup_seconds()
    result["thread_setup"] = setup
    print(
        f"per worker thread, once per find_faces call: detector {fmt(setup['detector'], 1000, 0)} ms, landmark model "
        f"{fmt(setup['landmarks'], 1000, 0)} ms (a pickled copy of a detector: {fmt(setup['detector_copy'], 1000, 1)} ms)"
    )
    result["python_lock"] = python_lock_held(model, made[3][0])
    print(
        "longest pause of another Python thread (ms) while dlib runs: "
        + ", ".join(f"{k} {v['longest_pause_ms']:.0f} of {v['call_ms']:.0f}" for k, v in result["python_lock"].items())
    )
    return result


def python_lock_held(model, path: Path) -> dict:
    """Whether dlib lets other Python threads run during its calls: the longest pause of a
    thread that wakes every millisecond, against the call's length. A pause as long as the call
    means dlib keeps Python's lock, so the tier's other worker waits."""
    import threading

    import dlib

    from lucida.describe import read_photo
    from lucida.faces import _DECODE_SIDE
    from lucida.models.faces import MIN_SCORE, _pixels

    pixels, _ = _pixels(read_photo(str(path), _DECODE_SIDE).image)
    detector, landmarks = model._thread_models()
    rects, _, _ = detector.run(pixels, 0, MIN_SCORE)
    shapes = dlib.full_object_detections([landmarks(pixels, r) for r in rects])
    calls = {
        "detection": lambda: detector.run(pixels, 0, MIN_SCORE),
        "landmarks": lambda: [landmarks(pixels, r) for r in rects for _ in range(10)],
        "descriptor": lambda: model._network.compute_face_descriptor(pixels, shapes),
    }
    out = {}
    for name, call in calls.items():
        stamps: list[float] = []
        stop = threading.Event()

        def tick() -> None:
            while not stop.is_set():
                stamps.append(time.perf_counter())
                time.sleep(0.001)

        ticker = threading.Thread(target=tick)
        ticker.start()
        time.sleep(0.05)
        t0 = time.perf_counter()
        call()
        t1 = time.perf_counter()
        stop.set()
        ticker.join()
        inside = [t for t in stamps if t0 <= t <= t1]
        out[name] = {"call_ms": (t1 - t0) * 1000, "longest_pause_ms": float(np.diff([t0, *inside, t1]).max()) * 1000}
    return out


def tier(model, photos: list[SourcePhoto], folder: Path, repeat: int) -> dict:
    """find_faces with 1 and 2 workers, interleaved run by run, so other load falls on both."""
    made = speed_photos(photos, folder, seed=16)
    # Each photo three times (hard links: other paths, the same bytes), so the threads' set-up
    # weighs on photos/s less.
    links = {k: [_link(p, n) for n in range(3) for p in v] for k, v in made.items()}
    groups = {**{f"{k} faces": v for k, v in links.items()}, "all": [p for v in links.values() for p in v]}
    tier_run(model, groups["0 faces"][:2], 2)  # warm: page cache
    runs: dict[tuple[int, str], list] = {(w, name): [] for w in (1, 2) for name in groups}
    loads = []
    for _ in range(repeat):
        loads.append(load_average())
        for workers in (1, 2):
            for name, paths in groups.items():
                runs[(workers, name)].append(tier_run(model, paths, workers))
    print(f"\nfind_faces (the tier, catalog included), photos/s: median of {repeat} runs (min-max); load before each round {loads}")
    result: dict = {"loads": loads}
    for workers in (1, 2):
        for name, paths in groups.items():
            these = runs[(workers, name)]
            rates = [len(paths) / s for s, _, _ in these]
            cores = [c / s for s, c, _ in these]
            result[f"{workers} workers, {name}"] = {
                "photos": len(paths), "faces": these[0][2], "photos_per_s": median_spread(rates),
                "ms_per_photo": median_spread([1000 / r for r in rates]), "cores_busy": median_spread(cores),
                "cpu_ms_per_photo": median_spread([1000 * c / len(paths) for _, c, _ in these]),
            }  # fmt: skip
            row = result[f"{workers} workers, {name}"]
            print(
                f"  {workers} workers, {name:8s} ({len(paths)} photos, {these[0][2]} faces): {fmt(row['photos_per_s'], digits=2)} photos/s, "
                f"{fmt(row['ms_per_photo'])} ms/photo, CPU {fmt(row['cpu_ms_per_photo'], digits=0)} ms/photo, {statistics.median(cores):.2f} cores busy"
            )
    return result


# -- part 3: small faces -----------------------------------------------------------------------


def size_scenes(photos: list[SourcePhoto], folder: Path, scenes: int, seed: int) -> list[tuple[Path, int, list[tuple]]]:
    """For each face size: `scenes` 4000x3000 JPEGs, each with 8 real faces (the pool in turn,
    some flipped) on a 4x2 grid with jitter; (path, size %, the faces' boxes)."""
    rng = np.random.default_rng(seed)
    pool = face_pool(photos)
    folder.mkdir(parents=True, exist_ok=True)
    made = []
    for pct in SIZES_PCT:
        for s in range(scenes):
            canvas = background(SCENE_BACKGROUNDS[s % len(SCENE_BACKGROUNDS)], rng)
            boxes = []
            for k in range(8):
                _, crop, box = pool[(8 * s + k) % len(pool)]
                if rng.random() < 0.5:
                    crop = crop.transpose(Image.Transpose.FLIP_LEFT_RIGHT)
                    box = (crop.width - box[0] - box[2], box[1], box[2], box[3])
                width = WIDTH * pct / 100
                room = max(0.0, 500 - 0.9 * width)
                centre = (500 + 1000 * (k % 4) + rng.uniform(-room, room) * 0.5, 750 + 1500 * (k // 4) + rng.uniform(-room, room) * 0.5)
                boxes.append(paste_face(canvas, crop, box, centre, width))
            path = folder / f"size{pct:02d}_{s}.jpg"
            save_12mp(canvas, path, rng)
            made.append((path, pct, boxes))
    return made


def detect_at(path: Path, side: int | None) -> tuple[list[tuple], float, float]:
    """dlib's HOG detector (as FaceModel.find runs it: no upsampling, MIN_SCORE) on the photo
    decoded as the tier would for `side` pixels on the long side (None: full size); boxes in
    full-size pixels, decode and detection seconds."""
    import dlib

    from lucida.describe import read_photo
    from lucida.models.faces import MIN_SCORE

    t0 = time.perf_counter()
    photo = read_photo(str(path), (side or WIDTH) * 3 // 4)
    image = photo.image.convert("RGB")
    if side is not None and max(image.size) > side:
        scale = side / max(image.size)
        image = image.resize((round(image.width * scale), round(image.height * scale)), Image.Resampling.BILINEAR)
    pixels = np.ascontiguousarray(np.asarray(image))
    t1 = time.perf_counter()
    if not hasattr(detect_at, "detector"):
        detect_at.detector = dlib.get_frontal_face_detector()
    rects, _, _ = detect_at.detector.run(pixels, 0, MIN_SCORE)
    t2 = time.perf_counter()
    k = WIDTH / pixels.shape[1]
    return [(r.left() * k, r.top() * k, r.width() * k, r.height() * k) for r in rects], t1 - t0, t2 - t1


def sizes(photos: list[SourcePhoto], folder: Path, scenes: int) -> dict:
    made = size_scenes(photos, folder, scenes, seed=17)
    sides = {"1024": 1024, "2048": 2048, "full (4000)": None}
    result: dict = {}
    pooled: dict[str, dict[str, list[float]]] = {}
    print(f"\nsmall faces: {scenes} scenes x 8 faces per size; detection rate (found/placed), false detections, ms per photo (median) to decode / detect; load {load_average()}")
    for label, side in sides.items():
        for pct in SIZES_PCT:
            found = placed = false = 0
            decode, detect = [], []
            for path, p, boxes in made:
                if p != pct:
                    continue
                detections, d_s, t_s = detect_at(path, side)
                decode.append(d_s)
                detect.append(t_s)
                pooled.setdefault(label, {"decode": [], "detect": []})
                pooled[label]["decode"].append(d_s * 1000)
                pooled[label]["detect"].append(t_s * 1000)
                matched = set()
                for x, y, w, h in boxes:
                    for i, (dx, dy, dw, dh) in enumerate(detections):
                        cx, cy = dx + dw / 2, dy + dh / 2
                        if i not in matched and x <= cx <= x + w and y <= cy <= y + h and 0.5 <= dw / w <= 2:
                            matched.add(i)
                            break
                found += len(matched)
                placed += len(boxes)
                false += len(detections) - len(matched)
            result[f"{label}@{pct}%"] = {
                "side": side, "face_pct": pct, "face_px_at_side": pct / 100 * (side or WIDTH), "placed": placed, "found": found,
                "rate": found / placed, "false": false, "decode_ms": median_spread([v * 1000 for v in decode]),
                "detect_ms": median_spread([v * 1000 for v in detect]),
            }  # fmt: skip
            print(
                f"  side {label:12s} faces {pct:2d}% ({pct / 100 * (side or WIDTH):5.0f} px): {found:3d}/{placed} = {found / placed:4.0%}, "
                f"{false} false, decode {fmt(result[f'{label}@{pct}%']['decode_ms'], digits=0)} ms, detect {fmt(result[f'{label}@{pct}%']['detect_ms'], digits=0)} ms"
            )
    result["by_side"] = {label: {k: median_spread(v) for k, v in times.items()} for label, times in pooled.items()}
    for label, times in result["by_side"].items():
        print(f"  side {label:12s} all {len(pooled[label]['detect'])} scenes: decode {fmt(times['decode'], digits=0)} ms, detect {fmt(times['detect'], digits=0)} ms")
    return result


# -- part 4: clustering 10,000 faces ---------------------------------------------------------


def synthetic_descriptors(faces: list[LabelledFace], count: int, people: int, seed: int, skew: float = 1.1) -> tuple[np.ndarray, np.ndarray, dict]:
    """`count` descriptors of `people` identities shaped like the real ones. Centres: the real
    identities' mean plus Gaussian noise with the per-dimension spread of the real identities'
    means, scaled so that two faces of two people lie as far apart as in the real set (median). Faces:
    a centre plus isotropic noise (each face its own scale, 0.7-1.3) as far from each other as
    the real same-person pairs from different source photos (median). Then each vector is
    rescaled to a norm drawn from the real norms (dlib's descriptors are not unit vectors).
    Faces per person: 1 + Zipf-like shares with exponent `skew` (1.1: a few people in many
    photos, most in one or two; 0: all alike)."""
    rng = np.random.default_rng(seed)
    real = np.stack([f.descriptor for f in faces]).astype(np.float64)
    ids = np.array([f.identity for f in faces])
    d = distances(real)
    same_id, cross_source, upper = pair_masks(faces)
    same_median = float(np.median(d[upper & same_id & cross_source]))
    diff_median = float(np.median(d[upper & ~same_id]))
    means = np.stack([real[ids == i].mean(0) for i in np.unique(ids)])
    spread = means.std(0)
    centres = means.mean(0) + rng.normal(size=(people, real.shape[1])) * spread
    pair = rng.integers(0, people, size=(2000, 2))
    pair = pair[pair[:, 0] != pair[:, 1]]
    # Two faces of two people are as far apart as their centres and their own changes together.
    centre_distance = math.sqrt(max(diff_median**2 - same_median**2, 0.0))
    centres = means.mean(0) + (centres - means.mean(0)) * centre_distance / np.median(np.linalg.norm(centres[pair[:, 0]] - centres[pair[:, 1]], axis=1))
    weights = 1 / np.arange(1, people + 1) ** skew
    sizes = 1 + rng.multinomial(count - people, weights / weights.sum())
    labels = np.repeat(np.arange(people), sizes)
    sigma = same_median / math.sqrt(2 * real.shape[1])
    # Each face its own amount of change (pose, light, age), so distances spread as real ones do.
    vectors = centres[labels] + rng.normal(0, sigma, size=(count, real.shape[1])) * rng.uniform(0.7, 1.3, size=(count, 1))
    real_norms = np.linalg.norm(real, axis=1)
    vectors *= (rng.choice(real_norms, size=count) / np.linalg.norm(vectors, axis=1))[:, None]
    order = rng.permutation(count)
    vectors, labels = vectors[order].astype(np.float32), labels[order]
    sample = rng.choice(count, size=min(count, 3000), replace=False)
    ds = distances(vectors[sample])
    same = labels[sample][:, None] == labels[sample][None, :]
    up = np.triu(np.ones_like(same), k=1)
    shape = {
        "real: same person, different source photos, median": same_median,
        "real: different people, median": diff_median,
        "synthetic: same person": distance_summary(ds[up & same]),
        "synthetic: different people": distance_summary(ds[up & ~same]),
        "synthetic: norms": {"mean": float(np.linalg.norm(vectors, axis=1).mean()), "sd": float(np.linalg.norm(vectors, axis=1).std())},
        "people": people, "largest person (faces)": int(sizes.max()), "people with 1 face": int((sizes == 1).sum()),
    }  # fmt: skip
    return vectors, labels, shape


def pairs_within(vectors: np.ndarray, threshold: float, block: int = 2048) -> int:
    """How many pairs of faces are closer than `threshold`: the edges Chinese whispers works on."""
    norms = (vectors * vectors).sum(1)
    count = 0
    for start in range(0, len(vectors), block):
        part = vectors[start : start + block]
        squared = norms[start : start + block, None] + norms[None, :] - 2.0 * (part @ vectors.T)
        rows, columns = np.nonzero(squared < threshold * threshold)
        count += int((columns > rows + start).sum())
    return count


class _Rollback(Exception):
    pass


def scale(faces: list[LabelledFace], count: int, repeat: int) -> dict:
    from lucida.catalog import Catalog
    from lucida.models.faces import FACE_FINDER
    from lucida.people import SAME_PERSON, assign_new_faces, cluster_labels, recluster

    vectors, labels, shape = synthetic_descriptors(faces, count + 100, people=count // 10, seed=16)
    extra = vectors[count:]
    vectors, labels = vectors[:count], labels[:count]
    print(
        f"\n{count:,} synthetic descriptors, {shape['people']} people (largest {shape['largest person (faces)']} faces, "
        f"{shape['people with 1 face']} with one); load {load_average()}\n"
        f"  same-person distance median {shape['synthetic: same person']['median']:.3f} (p5-p95 {shape['synthetic: same person']['p5']:.3f}-{shape['synthetic: same person']['p95']:.3f}; "
        f"real, different source photos: {shape['real: same person, different source photos, median']:.3f}), different people {shape['synthetic: different people']['median']:.3f} "
        f"(p5-p95 {shape['synthetic: different people']['p5']:.3f}-{shape['synthetic: different people']['p95']:.3f}; real {shape['real: different people, median']:.3f}); "
        f"norms {shape['synthetic: norms']['mean']:.3f} (sd {shape['synthetic: norms']['sd']:.3f})"
    )
    result: dict = {"shape": shape}
    same_id = labels[:, None] == labels[None, :]
    upper = np.triu(np.ones_like(same_id), k=1)

    runs, last = [], None
    for _ in range(repeat):
        started = time.perf_counter()
        last = cluster_labels(vectors, SAME_PERSON)
        runs.append(time.perf_counter() - started)
    result["cluster_labels_s"] = median_spread(runs)
    result["pairs_within_threshold"] = pairs_within(vectors, SAME_PERSON)
    result["cluster_labels_pr"] = pairwise_pr(last, same_id, upper)
    print(f"  cluster_labels (Chinese whispers), {count:,} faces, {result['pairs_within_threshold']:,} pairs within {SAME_PERSON}: {fmt(result['cluster_labels_s'], digits=2)} s; synthetic P {result['cluster_labels_pr']['precision']:.3f} R {result['cluster_labels_pr']['recall']:.3f}")

    # Chinese whispers works on the pairs within the threshold, whose number grows with the
    # square of the largest people's face counts: the same 10,000 faces, spread otherwise.
    result["cluster_labels_by_skew"] = {}
    for skew in (0.0, 1.6):
        other, other_labels, other_shape = synthetic_descriptors(faces, count, people=count // 10, seed=16, skew=skew)
        runs, found = [], None
        for _ in range(repeat):
            started = time.perf_counter()
            found = cluster_labels(other, SAME_PERSON)
            runs.append(time.perf_counter() - started)
        pairs = pairs_within(other, SAME_PERSON)
        pr = pairwise_pr(found, other_labels[:, None] == other_labels[None, :], upper)
        result["cluster_labels_by_skew"][str(skew)] = {
            "largest person": other_shape["largest person (faces)"], "pairs": pairs, "seconds": median_spread(runs), "pr": pr,
        }
        print(
            f"  cluster_labels, {count:,} faces, largest person {other_shape['largest person (faces)']:,} faces, {pairs:,} pairs within {SAME_PERSON}: "
            f"{fmt(median_spread(runs), digits=2)} s; synthetic P {pr['precision']:.3f} R {pr['recall']:.3f}"
        )

    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "c.db"
        with Catalog.open(path) as catalog:
            # The faces arrive as the tier stores them: 16 photos (one face each here) per
            # transaction, each batch placed by assign_new_faces.
            started, assign_time = time.perf_counter(), 0.0
            for start in range(0, count, 16):
                with catalog.transaction():
                    for i in range(start, min(start + 16, count)):
                        image_id = catalog.add_image(f"bench:{i}", None, None, None)
                        catalog.put_faces(image_id, FACE_FINDER, [((0.4, 0.3, 0.1, 0.1), 1.0, vectors[i], FACE_FINDER)])
                    t = time.perf_counter()
                    assign_new_faces(catalog)
                    assign_time += time.perf_counter() - t
            result["tier_batches"] = {"total_s": time.perf_counter() - started, "assign_s": assign_time, "batches": math.ceil(count / 16)}
            ids, clusters, _ = catalog.face_descriptors("all")
            result["incremental_pr"] = pairwise_pr(clusters, same_id, upper)
            print(
                f"  {count:,} faces stored in batches of 16 with assign_new_faces after each: {result['tier_batches']['total_s']:.1f} s in all, "
                f"of which assign_new_faces {assign_time:.1f} s; synthetic P {result['incremental_pr']['precision']:.3f} R {result['incremental_pr']['recall']:.3f}"
            )

            def add_100() -> float:
                try:
                    with catalog.transaction():
                        for i in range(len(extra)):
                            image_id = catalog.add_image(f"bench:extra:{i}", None, None, None)
                            catalog.put_faces(image_id, FACE_FINDER, [((0.4, 0.3, 0.1, 0.1), 1.0, extra[i], FACE_FINDER)])
                        t = time.perf_counter()
                        assign_new_faces(catalog)
                        elapsed = time.perf_counter() - t
                        raise _Rollback
                except _Rollback:
                    return elapsed

            result["add_100_s"] = median_spread([add_100() for _ in range(max(repeat, 5))])
            print(f"  assign_new_faces for 100 new faces next to {count:,} clustered: {fmt(result['add_100_s'], 1000)} ms")

            runs = []
            for _ in range(repeat):
                started = time.perf_counter()
                recluster(catalog)
                runs.append(time.perf_counter() - started)
            result["recluster_s"] = median_spread(runs)
            print(f"  recluster (catalog read, Chinese whispers, catalog write), {count:,} faces: {fmt(result['recluster_s'], digits=2)} s")

            with catalog.transaction():
                catalog.clear_clusters()
                started = time.perf_counter()
                assign_new_faces(catalog)
                result["assign_all_at_once_s"] = time.perf_counter() - started
            print(f"  assign_new_faces with all {count:,} faces unclustered, one call: {result['assign_all_at_once_s']:.1f} s")
    return result


def _commit() -> str | None:
    """The lucida commit measured (the tree may hold uncommitted changes too)."""
    import subprocess

    try:
        return subprocess.run(["git", "rev-parse", "--short", "HEAD"], capture_output=True, text=True, check=True, cwd=Path(__file__).parent).stdout.strip()
    except (OSError, subprocess.CalledProcessError):
        return None


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--only", default=",".join(PARTS), help=f"comma-separated parts to run (default: all): {', '.join(PARTS)}")
    parser.add_argument("--repeat", type=int, default=3, help="timed runs of each measurement (default 3)")
    parser.add_argument("--seeds", type=int, default=5, help="random face orders per threshold in the quality sweep (default 5)")
    parser.add_argument("--scenes", type=int, default=4, help="scenes of 8 faces per face size in the sizes part (default 4)")
    parser.add_argument("--faces", type=int, default=10_000, help="faces in the scale part (default 10,000)")
    parser.add_argument("--photos", help="folder for the generated 12 MP photos, kept and reused (default: a temporary folder)")
    parser.add_argument("--out", help="write the results as JSON to this file")
    args = parser.parse_args()
    parts = [p.strip() for p in args.only.split(",") if p.strip()]
    unknown = set(parts) - set(PARTS)
    if unknown:
        parser.error(f"unknown part(s) {', '.join(sorted(unknown))}; choose from {', '.join(PARTS)}")

    from lucida.models.faces import DETECT_SIDE, load_face_model

    facts = machine()
    print_machine(facts)
    started = time.perf_counter()
    model = load_face_model()
    print(f"face model loaded in {time.perf_counter() - started:.1f} s; DETECT_SIDE {DETECT_SIDE}; load {load_average()}")
    photos = source_photos(model)
    result: dict = {"machine": facts, "commit": _commit(), "detect_side": DETECT_SIDE, "parts": parts}
    faces = None
    with tempfile.TemporaryDirectory() as temporary:
        photo_folder = Path(args.photos) if args.photos else Path(temporary)
        if "quality" in parts:
            result["quality"], faces = quality(model, photos, args.seeds)
        if "speed" in parts:
            result["speed"] = speed(model, photos, photo_folder / "speed", args.repeat)
        if "tier" in parts:
            result["tier"] = tier(model, photos, photo_folder / "speed", args.repeat)
        if "sizes" in parts:
            result["sizes"] = sizes(photos, photo_folder / "sizes", args.scenes)
        if "scale" in parts:
            if faces is None:  # the real descriptors give the synthetic ones their shape
                with tempfile.TemporaryDirectory() as folder:
                    faces, _ = labelled_set(model, photos, Path(folder))
            result["scale"] = scale(faces, args.faces, args.repeat)
    write_out(args.out, result)


if __name__ == "__main__":
    main()

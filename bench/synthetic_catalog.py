"""A synthetic lucida catalog of a million photos, for benchmarking search at scale.

No photos are decoded: a real SQLite catalog is filled through the Catalog API with what an index
run with the default models and ExifTool would have stored. Each photo has:

- a description written the way the default describer writes one: the likely ImageNet classes
  of a drawn class distribution with their WordNet definitions (describe_classes), the WordNet
  categories they add up to and the pixel words of a drawn image (the real SignalDescriber,
  hypernyms and pixels). The distributions are shaped like the classifier's on real photos (see
  NEAREST_CLASSES); the pixel words come from a few coloured bands, not a photo, so they say
  nothing about the classes;
- its embedding by the real default embedder, and its ConSE class mixture (lucida.concepts);
- metadata to filter by: a capture time in 2005-2025, one of 21 cameras (each in the years it was
  in use; FUJIFILM X100V on exactly 1% of the photos, a 1% camera filter), lens, focal length,
  a rating 0-5, some colour labels, GPS on phone photos, and the "metadata" description an index
  run writes from these (lucida.metadata_text);
- a file /photos/<year>/<month>/IMG_<n>.JPG; 2% of the photos are RAW+JPEG pairs, with a second
  image (its own content hash, description and vectors) at IMG_<n>.RAF beside it.

Why the vectors are not uniform random: random unit vectors in 384 dimensions are all nearly
orthogonal, with no neighbourhoods, so an approximate nearest-neighbour index finds nothing to
exploit and a query's top hits are arbitrary. Real description embeddings crowd into clusters
of near-paraphrases. So a pool of distinct descriptions is embedded once with the real embedder,
and each photo takes one pool description and the pool's vector plus Gaussian noise, scaled so
that the cosine between a photo's vector and its pool vector is about 0.93 (two captions of
near-identical photos); its class mixture gets the same treatment. Embedding costs about 70 ms
a description on 2 cores (they are long: 580 characters), so the pool is 2,500 descriptions
(about 3 minutes), not 20,000: each stands for about 400 photos of a million. `--pool` sets it.

    HF_HUB_OFFLINE=1 python bench/synthetic_catalog.py --out /tmp/syn1m.db              # 1,000,000 photos
    HF_HUB_OFFLINE=1 python bench/synthetic_catalog.py --photos 20000 --out /tmp/syn20k.db
    HF_HUB_OFFLINE=1 python bench/synthetic_catalog.py --add --photos 10000 --pool 200 --seed 4 --out /tmp/syn1m.db

The query set for benchmarks over it is bench/search_latency.make_queries.
"""

from __future__ import annotations

import argparse
import hashlib
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from PIL import Image

from _common import load_average, machine, print_machine

POOL = 2_500
TARGET_COSINE = 0.93  # between a photo's vector and its pool description's
BATCH = 10_000  # photos per transaction
FIRST_YEAR, LAST_YEAR = 2005, 2025
ONE_PERCENT_CAMERA = ("FUJIFILM", "X100V")
PAIR_SHARE = 0.02
# Ratings as people give them: most photos unrated (0), a few starred.
RATINGS = {0: 0.55, 1: 0.05, 2: 0.10, 3: 0.15, 4: 0.10, 5: 0.05}
LABELS = {None: 0.94, "Red": 0.03, "Green": 0.02, "Blue": 0.01}
# Where phone photos were taken: home mostly, then trips. Fixed points, so a gazetteer names
# each once and an update_metadata_descriptions run over the catalog writes the same words.
PLACES = {
    (52.3731, 4.8922): 0.70,  # Amsterdam
    (48.8566, 2.3522): 0.06,  # Paris
    (41.9028, 12.4964): 0.05,  # Rome
    (40.7128, -74.0060): 0.05,  # New York
    (35.6762, 139.6503): 0.04,  # Tokyo
    (-33.9249, 18.4241): 0.04,  # Cape Town
    (46.5547, 7.9806): 0.03,  # Grindelwald
    (64.1466, -21.9426): 0.03,  # Reykjavik
}
PHONE_GPS_SHARE = 0.9
# Class distributions like the classifier's on real photos. On the 17 sample photos
# (lucida.samples) its likeliest class has p 0.35 on average (median 0.22; four photos above 0.65),
# the entropy is 3.5 nats, describe_classes names 3.7 classes, and they are related (Egyptian cat,
# tiger cat, tabby; espresso, cup, coffee mug; moped, motor scooter, crash helmet). So a photo has
# a subject class, sometimes two, whose probability it shares with the classes nearest it (by
# the embedder's vectors of the class texts), over a long tail on every class. These settings
# give p 0.30 (median 0.24), 3.5 nats and 3.3 classes named. A sparse Dirichlet over all classes
# (bench/search_latency.py) names 5 unrelated ones.
NEAREST_CLASSES = 8
CONFIDENT_SHARE = 0.2  # photos the classifier is sure of
SECOND_SUBJECT_SHARE = 0.3
TAIL_CONCENTRATION = 0.1


@dataclass(frozen=True)
class Camera:
    make: str
    model: str
    years: tuple[int, int]  # in use from, to (inclusive)
    weight: float  # share among the cameras in use in a year
    width: int  # pixels, landscape
    height: int
    lens: str | None
    focal_lengths: tuple[float, ...]  # mm, as recorded
    apertures: tuple[float, ...]
    phone: bool = False  # records GPS
    raw_pairs: bool = False  # shoots RAW+JPEG (the pairs are .RAF, so Fujifilm bodies)
    jpeg_mb: float = 5.0


CAMERAS = [
    Camera("Canon", "Canon EOS 350D DIGITAL", (2005, 2010), 3, 3456, 2304, "EF-S18-55mm f/3.5-5.6", (18, 24, 35, 55), (3.5, 5.6, 8), jpeg_mb=3),
    Camera("NIKON CORPORATION", "NIKON D80", (2006, 2012), 3, 3872, 2592, "18.0-135.0 mm f/3.5-5.6", (18, 35, 70, 135), (3.5, 5.6, 8), jpeg_mb=4),
    Camera("SONY", "DSC-W80", (2007, 2011), 2, 3072, 2304, None, (5.8, 9.1, 17.4), (2.8, 5.2), jpeg_mb=2.5),
    Camera("Canon", "Canon PowerShot S95", (2010, 2014), 2, 3648, 2736, None, (6.0, 12.0, 22.5), (2.0, 4.9), jpeg_mb=3),
    Camera("NIKON CORPORATION", "NIKON D7000", (2010, 2016), 3, 4928, 3264, "18.0-105.0 mm f/3.5-5.6", (18, 35, 50, 105), (3.5, 5.6, 8), jpeg_mb=6),
    Camera("Apple", "iPhone 4S", (2011, 2014), 4, 3264, 2448, "iPhone 4S back camera 4.28mm f/2.4", (4.28,), (2.4,), phone=True, jpeg_mb=2.5),
    Camera("Canon", "Canon EOS 5D Mark III", (2012, 2019), 2, 5760, 3840, "EF24-105mm f/4L IS USM", (24, 50, 105), (4.0, 5.6, 8), jpeg_mb=8),
    Camera("Apple", "iPhone 6", (2014, 2018), 5, 3264, 2448, "iPhone 6 back camera 4.15mm f/2.2", (4.15,), (2.2,), phone=True, jpeg_mb=2.5),
    Camera("OLYMPUS IMAGING CORP.", "E-M10", (2014, 2018), 1, 4608, 3456, "OLYMPUS M.14-42mm F3.5-5.6 EZ", (14, 25, 42), (3.5, 5.6), jpeg_mb=5),
    Camera("Panasonic", "DMC-TZ70", (2015, 2019), 1, 4000, 3000, None, (4.3, 12.0, 129.0), (3.3, 6.4), jpeg_mb=4),
    Camera("samsung", "SM-G930F", (2016, 2019), 3, 4032, 3024, None, (4.2,), (1.7,), phone=True, jpeg_mb=3),
    Camera("FUJIFILM", "X-T2", (2016, 2021), 3, 6000, 4000, "XF18-55mmF2.8-4 R LM OIS", (18, 23, 35, 55), (2.8, 4, 5.6), raw_pairs=True, jpeg_mb=9),
    Camera("FUJIFILM", "X100F", (2017, 2022), 2, 6000, 4000, None, (23,), (2.0, 4, 8), raw_pairs=True, jpeg_mb=9),
    Camera("Apple", "iPhone X", (2017, 2021), 5, 4032, 3024, "iPhone X back dual camera 4mm f/1.8", (4.0, 6.0), (1.8, 2.4), phone=True, jpeg_mb=3),
    Camera("SONY", "ILCE-7M3", (2018, 2025), 2, 6000, 4000, "FE 24-105mm F4 G OSS", (24, 50, 105), (4.0, 5.6, 8), jpeg_mb=10),
    Camera("NIKON CORPORATION", "NIKON Z 6", (2019, 2025), 2, 6048, 4024, "NIKKOR Z 24-70mm f/4 S", (24, 35, 70), (4.0, 5.6, 8), jpeg_mb=9),
    Camera("FUJIFILM", "X-T4", (2020, 2025), 3, 6240, 4160, "XF16-80mmF4 R OIS WR", (16, 23, 35, 80), (4.0, 5.6, 8), raw_pairs=True, jpeg_mb=11),
    Camera("Google", "Pixel 4a", (2020, 2023), 3, 4032, 3024, None, (4.38,), (1.73,), phone=True, jpeg_mb=3),
    Camera("Apple", "iPhone 13 Pro", (2021, 2025), 6, 4032, 3024, "iPhone 13 Pro back triple camera 5.7mm f/1.5", (1.57, 5.7, 9.0), (1.5, 1.8, 2.8), phone=True, jpeg_mb=3.5),
    Camera("samsung", "SM-S911B", (2023, 2025), 3, 4000, 3000, None, (2.2, 5.4, 7.0), (1.8, 2.2, 2.4), phone=True, jpeg_mb=3.5),
    # Given to exactly 1% of the photos instead of drawn, so it has no weight; no pairs, so a
    # filter on it lets exactly 1% of the images through too.
    Camera("FUJIFILM", "X100V", (2020, 2025), 0, 6240, 4160, None, (23,), (2.0, 4, 8), jpeg_mb=11),
]  # fmt: skip


class DrawnClasses:
    """Stands in for the ImageNet classifier under the default describer's signals: each image it
    is asked about is described by the next of the class distributions it was given."""

    prompt = ""
    input_side = 224

    def __init__(self, probabilities: np.ndarray):
        from lucida.models.imagenet_classes import load_imagenet_classes
        from lucida.models.registry import IMAGENET_DESCRIBER

        self.name = IMAGENET_DESCRIBER
        self.classes = load_imagenet_classes()
        self._rows = iter(probabilities)

    def describe(self, images: list[Image.Image]):
        from lucida.models.imagenet import describe_classes

        return [describe_classes(next(self._rows), self.classes) for _ in images]


def drawn_image(rng: np.random.Generator) -> Image.Image:
    """A small image of two to four coloured bands with grain, for the pixel words: mostly
    landscape, some portrait, a few square or panoramas; some dark, some bright, some black and
    white, some smooth enough to read as blurry."""
    width, height = [(128, 96), (96, 128), (112, 112), (128, 48)][rng.choice(4, p=[0.62, 0.3, 0.05, 0.03])]
    light = rng.choice([0.12, 0.3, 0.55, 0.85], p=[0.1, 0.15, 0.6, 0.15])
    bands = rng.integers(2, 5)
    edges = np.sort(rng.integers(0, height, bands - 1))
    row_band = np.searchsorted(edges, np.arange(height), side="right")
    # Hues as photos have them: sky and water, foliage, earth and skin, then anything.
    centre = rng.choice([0.6, 0.3, 0.07, 0.5], bands, p=[0.35, 0.25, 0.25, 0.15])
    spread = np.where(centre == 0.5, 0.5, 0.05)
    hue = (centre + rng.uniform(-1, 1, bands) * spread) % 1.0
    saturation = np.zeros(bands) if rng.random() < 0.06 else rng.beta(1.5, 2.5, bands)
    value = np.clip(light + rng.normal(0, 0.12, bands), 0.02, 1.0)
    hsv = np.stack([hue, saturation, value], axis=-1)[row_band]  # (height, 3)
    hsv = np.repeat(hsv[:, None, :], width, axis=1) * 255
    grain = rng.choice([1.0, 6.0, 20.0])
    hsv[..., 2] += rng.normal(0, grain, (height, width))
    return Image.fromarray(np.clip(hsv, 0, 255).astype(np.uint8), "HSV").convert("RGB")


def class_probabilities(nearest: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """One photo's class probabilities (see NEAREST_CLASSES); `nearest[c]`: the classes nearest c."""
    count, near_count = nearest.shape
    if rng.random() < CONFIDENT_SHARE:
        subject_share, own, related = rng.beta(6, 1), 10.0, 0.3
    else:
        subject_share, own, related = rng.beta(1.2, 1.5), 2.0, 0.3
    subjects = rng.integers(0, count, 2 if rng.random() < SECOND_SUBJECT_SHARE else 1)
    probabilities = (1 - subject_share) * rng.dirichlet(np.full(count, TAIL_CONCENTRATION))
    for subject, share in zip(subjects, rng.dirichlet(np.full(len(subjects), 2.0))):
        spread = rng.dirichlet(np.concatenate([[own], np.full(near_count, related)]))
        np.add.at(probabilities, np.concatenate([[subject], nearest[subject]]), subject_share * share * spread)
    return probabilities


def nearest_classes(class_matrix: np.ndarray) -> np.ndarray:
    """(classes, NEAREST_CLASSES): each class's nearest others by the cosine of their text vectors."""
    similarity = class_matrix @ class_matrix.T
    np.fill_diagonal(similarity, -np.inf)
    return np.argsort(-similarity, axis=1)[:, :NEAREST_CLASSES]


def draw_pool(size: int, nearest: np.ndarray, rng: np.random.Generator) -> tuple[list, list[tuple[int, int]]]:
    """`size` distinct descriptions as the default describer writes them, and the (width, height)
    of the drawn image each came from."""
    from lucida.models.signals import SignalDescriber

    descriptions, shapes, seen = [], [], set()
    while len(descriptions) < size:
        count = size - len(descriptions)
        probabilities = np.stack([class_probabilities(nearest, rng) for _ in range(count)])
        images = [drawn_image(rng) for _ in range(count)]
        describer = SignalDescriber(DrawnClasses(probabilities), ("hypernyms", "pixels"))
        for description, image in zip(describer.describe(images), images):
            if description.text not in seen:
                seen.add(description.text)
                descriptions.append(description)
                shapes.append(image.size)
    return descriptions, shapes


def embed_pool(embedder, texts: list[str]) -> np.ndarray:
    vectors, began, part = [], time.perf_counter(), 250
    for start in range(0, len(texts), part):
        vectors.append(embedder.embed_documents(texts[start : start + part]))
        done = start + len(vectors[-1])
        elapsed = time.perf_counter() - began
        print(f"  embedded {done:,}/{len(texts):,} descriptions, {done / elapsed:.1f}/s", flush=True)
    return np.concatenate(vectors)


def noise_scale(target_cosine: float, dim: int) -> float:
    """The standard deviation of Gaussian noise which, added to a unit vector and renormalised,
    leaves it at `target_cosine` to the original: cos = 1 / sqrt(1 + sigma^2 dim)."""
    return float(np.sqrt((1 / target_cosine**2 - 1) / dim))


def near(vectors: np.ndarray, sigma: float, rng: np.random.Generator) -> np.ndarray:
    noisy = vectors + rng.normal(0, sigma, vectors.shape).astype(np.float32)
    return noisy / np.linalg.norm(noisy, axis=1, keepdims=True)


@dataclass
class Plan:
    """What each photo is, decided up front: capture times sorted, so that file numbers and image
    ids grow with time as in a real library."""

    seconds: np.ndarray  # capture time, seconds since 1970 (local time, stored without offset)
    pool: np.ndarray  # pool description of each photo
    camera: np.ndarray  # index into CAMERAS
    rating: np.ndarray
    label: np.ndarray  # index into LABELS
    place: np.ndarray  # index into PLACES, -1 without GPS
    pair: np.ndarray  # bool: a RAW+JPEG pair
    lens_pick: np.ndarray  # random 0..1 picking focal length and aperture
    size_jitter: np.ndarray


def plan_photos(photos: int, pool: int, rng: np.random.Generator) -> Plan:
    start = np.datetime64(f"{FIRST_YEAR}-01-01T00:00:00", "s").astype(np.int64)
    end = np.datetime64(f"{LAST_YEAR + 1}-01-01T00:00:00", "s").astype(np.int64)
    seconds = np.sort(rng.integers(start, end, photos))
    years = seconds.astype("datetime64[s]").astype("datetime64[Y]").astype(int) + 1970

    one_percent = next(i for i, c in enumerate(CAMERAS) if (c.make, c.model) == ONE_PERCENT_CAMERA)
    camera = np.empty(photos, dtype=np.int64)
    for year in range(FIRST_YEAR, LAST_YEAR + 1):
        rows = np.flatnonzero(years == year)
        in_use = [i for i, c in enumerate(CAMERAS) if c.years[0] <= year <= c.years[1] and c.weight > 0]
        weights = np.array([CAMERAS[i].weight for i in in_use], dtype=float)
        camera[rows] = rng.choice(in_use, len(rows), p=weights / weights.sum())
    first, last = CAMERAS[one_percent].years
    eligible = np.flatnonzero((years >= first) & (years <= last))
    camera[rng.choice(eligible, round(photos * 0.01), replace=False)] = one_percent

    pair = np.zeros(photos, dtype=bool)
    shooters = np.flatnonzero(np.array([CAMERAS[c].raw_pairs for c in camera]))
    pairs = min(round(photos * PAIR_SHARE), len(shooters))
    pair[rng.choice(shooters, pairs, replace=False)] = True

    phone = np.array([CAMERAS[c].phone for c in camera])
    place = rng.choice(len(PLACES), photos, p=list(PLACES.values()))
    place[~phone | (rng.random(photos) >= PHONE_GPS_SHARE)] = -1
    return Plan(
        seconds=seconds,
        pool=rng.integers(0, pool, photos),
        camera=camera,
        rating=rng.choice(list(RATINGS), photos, p=list(RATINGS.values())),
        label=rng.choice(len(LABELS), photos, p=list(LABELS.values())),
        place=place,
        pair=pair,
        lens_pick=rng.random(photos),
        size_jitter=rng.random(photos),
    )


def photo_metadata(plan: Plan, i: int, taken_at: str, portrait: bool):
    """The PhotoMetadata ExifTool would have read, in the plain Python types the catalog hands
    back (so that its repr, which update_metadata_descriptions signs, is the same)."""
    from lucida.metadata import PhotoMetadata

    camera = CAMERAS[plan.camera[i]]
    pick = float(plan.lens_pick[i])
    place = list(PLACES)[plan.place[i]] if plan.place[i] >= 0 else (None, None)
    return PhotoMetadata(
        taken_at=taken_at,
        make=camera.make,
        model=camera.model,
        lens=camera.lens,
        focal_length=float(camera.focal_lengths[int(pick * len(camera.focal_lengths))]),
        aperture=float(camera.apertures[int(pick * 31) % len(camera.apertures)]),
        exposure_time=1 / (30, 60, 125, 250, 500, 1000)[int(pick * 53) % 6],
        iso=(100, 200, 400, 800, 1600, 3200)[int(pick * 97) % 6],
        latitude=place[0],
        longitude=place[1],
        orientation=6 if portrait else 1,
        rating=int(plan.rating[i]),
        label=list(LABELS)[plan.label[i]],
    )


@dataclass
class Pool:
    descriptions: list  # lucida.models.Description
    shapes: list[tuple[int, int]]  # (width, height) of the image each was drawn from
    vectors: np.ndarray  # the embedder's, (pool, dim)
    mixtures: np.ndarray  # ConSE class mixtures (lucida.concepts), (pool, dim)


def make_pool(catalog, embedder, size: int, rng: np.random.Generator) -> Pool:
    """Draw and embed the pool; stores the class texts' vectors in the catalog as an index run does."""
    from lucida.concepts import class_vectors, conse_vector
    from lucida.models.imagenet_classes import load_imagenet_classes

    began = time.perf_counter()
    by_synset = class_vectors(catalog, embedder)
    print(f"class text vectors: {time.perf_counter() - began:.1f} s", flush=True)

    began = time.perf_counter()
    nearest = nearest_classes(np.stack([by_synset[c.synset] for c in load_imagenet_classes()]))
    descriptions, shapes = draw_pool(size, nearest, rng)
    texts = [d.text for d in descriptions]
    print(
        f"pool: {len(texts):,} distinct descriptions drawn in {time.perf_counter() - began:.1f} s, "
        f"{np.mean([len(t) for t in texts]):.0f} characters on average; e.g. {texts[0]!r}",
        flush=True,
    )
    began = time.perf_counter()
    vectors = embed_pool(embedder, texts)
    seconds = time.perf_counter() - began
    print(f"pool embedding: {len(texts):,} descriptions in {seconds:.1f} s ({len(texts) / seconds:.1f}/s)", flush=True)
    mixtures = np.stack([conse_vector(d.details["classes"], by_synset) for d in descriptions])
    return Pool(descriptions, shapes, vectors, mixtures)


def write_photos(
    catalog, pool: Pool, plan: Plan, seed: int, rng: np.random.Generator, root: str = "/photos"
) -> tuple[int, np.ndarray, np.ndarray]:
    """Every photo of the plan into the catalog under `root`, BATCH photos a transaction. Returns
    the images written and the cosines of their vectors and class mixtures to their pool entry's."""
    from lucida.catalog.store import METADATA_DESCRIBER
    from lucida.metadata import sidecar_signature
    from lucida.metadata_text import Gazetteer, metadata_fields, metadata_text
    from lucida.models import DEFAULT_DESCRIBER, DEFAULT_EMBEDDER
    from lucida.models.registry import provenance

    kind, revision = provenance(DEFAULT_DESCRIBER)
    no_sidecars = sidecar_signature(())
    places = dict(zip(PLACES, Gazetteer().places(list(PLACES))))
    sigma = noise_scale(TARGET_COSINE, pool.vectors.shape[1])
    taken = plan.seconds.astype("datetime64[s]").astype(str)  # "2013-06-05T14:03:22"
    photos = len(plan.seconds)
    cosines, mixture_cosines = [], []
    began = time.perf_counter()
    images = 0
    for start in range(0, photos, BATCH):
        batch_began = time.perf_counter()
        rows = np.arange(start, min(start + BATCH, photos))
        # The pair companions' (RAW files') vectors after those of the batch's photos.
        entries = np.concatenate([plan.pool[rows], plan.pool[rows[plan.pair[rows]]]])
        vectors = near(pool.vectors[entries], sigma, rng)
        mixtures = near(pool.mixtures[entries], sigma, rng)
        cosines.append(np.einsum("nd,nd->n", vectors, pool.vectors[entries]))
        mixture_cosines.append(np.einsum("nd,nd->n", mixtures, pool.mixtures[entries]))
        companion = len(rows)
        with catalog.transaction():
            for row, i in enumerate(rows):
                files = [(row, ".JPG")]
                if plan.pair[i]:
                    files.append((companion, ".RAF"))
                    companion += 1
                description = pool.descriptions[plan.pool[i]]
                camera = CAMERAS[plan.camera[i]]
                w, h = pool.shapes[plan.pool[i]]
                portrait = h > w * 1.15
                width, height = (camera.height, camera.width) if portrait else (camera.width, camera.height)
                if abs(w - h) <= 0.15 * w:
                    width = height = min(width, height)
                metadata = photo_metadata(plan, i, str(taken[i]), portrait)
                fields = metadata_fields(metadata, places.get((metadata.latitude, metadata.longitude)))
                metadata_details = {"fields": fields, "metadata": hashlib.sha256(repr(metadata).encode("utf-8")).hexdigest()}
                folder = f"{root}/{taken[i][:4]}/{taken[i][5:7]}"
                for vector_row, extension in files:
                    content_hash = hashlib.sha256(f"synthetic {seed} {i}{extension}".encode()).hexdigest()
                    image_id = catalog.add_image(content_hash, width, height, metadata.taken_at)
                    description_id = catalog.put_description(
                        image_id, DEFAULT_DESCRIBER, "", description.text, description.details, kind, revision
                    )
                    catalog.put_embedding(description_id, DEFAULT_EMBEDDER, vectors[vector_row])
                    catalog.put_class_mixture(description_id, DEFAULT_EMBEDDER, mixtures[vector_row])
                    path = f"{folder}/IMG_{i:07d}{extension}"
                    megabytes = camera.jpeg_mb * (4.5 if extension == ".RAF" else 1) * (0.7 + 0.6 * plan.size_jitter[i])
                    catalog.put_file(path, int(megabytes * 1e6), (int(plan.seconds[i]) + 2) * 1_000_000_000, image_id)
                    catalog.put_metadata(path, metadata, no_sidecars)
                    catalog.put_description(image_id, METADATA_DESCRIBER, "", metadata_text(fields), metadata_details)
                    images += 1
        done, now = rows[-1] + 1, time.perf_counter()
        print(
            f"  {done:,}/{photos:,} photos ({images:,} images), {done / (now - began):,.0f} photos/s "
            f"(this batch {len(rows) / (now - batch_began):,.0f}/s)",
            flush=True,
        )
    return images, np.concatenate(cosines), np.concatenate(mixture_cosines)


def build(out: Path, photos: int, pool_size: int, seed: int) -> None:
    from lucida.catalog import Catalog
    from lucida.catalog.store import ACTIVE_DESCRIBER, ACTIVE_EMBEDDER
    from lucida.models import DEFAULT_DESCRIBER, DEFAULT_EMBEDDER, load_embedder

    began = time.perf_counter()
    rng = np.random.default_rng(seed)
    embedder = load_embedder(DEFAULT_EMBEDDER)
    with Catalog.open(out) as catalog:
        with catalog.transaction():
            catalog.set_setting(ACTIVE_DESCRIBER, DEFAULT_DESCRIBER)
            catalog.set_setting(ACTIVE_EMBEDDER, DEFAULT_EMBEDDER)
        pooling = time.perf_counter()
        pool = make_pool(catalog, embedder, pool_size, rng)
        pool_s = time.perf_counter() - pooling
        plan = plan_photos(photos, len(pool.descriptions), rng)
        filling = time.perf_counter()
        images, cosine, mixture_cosine = write_photos(catalog, pool, plan, seed, rng)
        fill_s = time.perf_counter() - filling
    size = out.stat().st_size  # closed: the write-ahead log is checkpointed into it and gone
    total_s = time.perf_counter() - began

    cameras = np.bincount(plan.camera, minlength=len(CAMERAS))
    one = next(i for i, c in enumerate(CAMERAS) if (c.make, c.model) == ONE_PERCENT_CAMERA)
    print(
        f"cosine(photo vector, its pool vector): mean {cosine.mean():.4f} (sd {cosine.std():.4f}, "
        f"min {cosine.min():.4f}); class mixtures: mean {mixture_cosine.mean():.4f}"
    )
    print(
        f"{photos:,} photos, {images:,} images ({int(plan.pair.sum()):,} RAW+JPEG pairs), "
        f"{' '.join(ONE_PERCENT_CAMERA)} on {cameras[one]:,} ({cameras[one] / photos:.2%}), "
        f"GPS on {(plan.place >= 0).mean():.1%}"
    )
    print(
        f"pool (class texts, drawing, embedding) {pool_s:.1f} s; fill {fill_s:.1f} s ({photos / fill_s:,.0f} photos/s); "
        f"total {total_s:.1f} s ({total_s / 60:.1f} min); {out}: {size / 1e9:.2f} GB"
    )


def add(out: Path, photos: int, pool_size: int, seed: int) -> None:
    """`photos` new photos into an existing catalog, under /photos-added/ (new content hashes
    from `seed`), as a later index run would add them."""
    from lucida.catalog import Catalog
    from lucida.models import DEFAULT_EMBEDDER, load_embedder

    rng = np.random.default_rng(seed)
    with Catalog.open(out, create=False) as catalog:
        pool = make_pool(catalog, load_embedder(DEFAULT_EMBEDDER), pool_size, rng)
        began = time.perf_counter()
        images, _, _ = write_photos(catalog, pool, plan_photos(photos, len(pool.descriptions), rng), seed, rng, "/photos-added")
    print(f"added {photos:,} photos ({images:,} images) in {time.perf_counter() - began:.1f} s")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--photos", type=int, default=1_000_000, help="photos in the catalog (2%% more images: pairs)")
    parser.add_argument("--out", required=True, help="the catalog file to create (never overwritten)")
    parser.add_argument("--seed", type=int, default=3)
    parser.add_argument("--pool", type=int, default=POOL, help="distinct descriptions, each embedded once")
    parser.add_argument(
        "--add", action="store_true",
        help="add --photos new photos (new content, under /photos-added/) to the existing catalog --out; use another --seed",
    )
    args = parser.parse_args()
    if args.add:
        add(Path(args.out), args.photos, args.pool, args.seed)
        return

    out = Path(args.out).expanduser().absolute()
    taken = [p for p in (out, Path(f"{out}-wal"), Path(f"{out}-shm")) if p.exists()]
    if taken:
        sys.exit(f"{taken[0]} exists; remove it or choose another --out")
    if args.photos < 100 or args.pool < 1:
        sys.exit("--photos must be 100 or more (1% of them get one camera) and --pool 1 or more")
    print_machine(machine())
    print(f"1-min load average: {load_average()}", flush=True)
    build(out, args.photos, args.pool, args.seed)


if __name__ == "__main__":
    main()

"""Real photos of real faces, offline, for lucida's people tests and benchmarks.

Packages that ship photos of faces:
- scikit-image: astronaut.png (Eileen Collins); matplotlib: grace_hopper.jpg (Grace Hopper);
- the source distribution of `face_recognition` 1.3.0 on PyPI (MIT): tests/test_images holds
  three photos of Barack Obama, two partial-face crops of him and one of Joe Biden;
- the source distribution of `insightface` 2.1 on PyPI (MIT): data/images/t1.jpg, a group of six
  people, and Tom_Hanks_54745.png.

The two source distributions come from PyPI with pip (`make face-photos` runs this once), pinned
by version and checked by SHA-256, and their photos are unpacked into a cache folder.

    python bench/face_photos.py [FOLDER]     # default: .cache/face-photos in the repository
"""

from __future__ import annotations

import hashlib
import shutil
import subprocess
import sys
import tarfile
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
DEFAULT_FOLDER = ROOT / ".cache" / "face-photos"

# (requirement, sha256 of the sdist, {member path: file name in the folder})
SOURCES = [
    (
        "face_recognition==1.3.0",
        "5e5efdd1686aa566af0d3cc1313b131e4b197657a8ffd03669e6d3fad92705ec",
        {
            f"face_recognition-1.3.0/tests/test_images/{name}": name
            for name in ("obama.jpg", "obama2.jpg", "obama3.jpg", "obama_partial_face.jpg", "obama_partial_face2.jpg", "biden.jpg")
        },
    ),
    (
        "insightface==2.1",
        "776cbd36b70f5f2ae1a026101cfb80387f0b2280a0dbaf073f8d3ed69f554e01",
        {
            "insightface-2.1/insightface/data/images/t1.jpg": "group_t1.jpg",
            "insightface-2.1/insightface/data/images/Tom_Hanks_54745.png": "tom_hanks.png",
        },
    ),
]

# Who each photo shows, for the labelled benchmark set: the identity of each face, left to right
# (group_t1.jpg's six people are six identities).
IDENTITIES = {
    "obama.jpg": ["obama"],
    "obama2.jpg": ["obama"],
    "obama3.jpg": ["obama"],
    "obama_partial_face.jpg": ["obama"],
    "obama_partial_face2.jpg": ["obama"],
    "biden.jpg": ["biden"],
    "tom_hanks.png": ["hanks"],
    "group_t1.jpg": [f"t1_person{i}" for i in range(1, 7)],
}


def face_photos(folder: Path = DEFAULT_FOLDER) -> Path:
    """The folder holding every photo of SOURCES, fetched and unpacked when missing."""
    folder.mkdir(parents=True, exist_ok=True)
    for requirement, digest, members in SOURCES:
        if all((folder / name).is_file() for name in members.values()):
            continue
        with tempfile.TemporaryDirectory() as download:
            subprocess.run(
                [sys.executable, "-m", "pip", "download", "--quiet", "--no-deps", "--no-binary", ":all:",
                 requirement, "-d", download],
                check=True,
            )  # fmt: skip
            [archive] = list(Path(download).glob("*.tar.gz"))
            found = hashlib.sha256(archive.read_bytes()).hexdigest()
            if found != digest:
                raise SystemExit(f"{archive.name}: sha256 {found}, expected {digest}")
            with tarfile.open(archive) as tar:
                for member, name in members.items():
                    source = tar.extractfile(member)
                    if source is None:
                        raise SystemExit(f"{archive.name} has no {member}")
                    with open(folder / name, "wb") as out:
                        shutil.copyfileobj(source, out)
    return folder


if __name__ == "__main__":
    print(face_photos(Path(sys.argv[1]) if len(sys.argv) > 1 else DEFAULT_FOLDER))

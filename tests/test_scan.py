"""Path containment used to tell deleted files from files outside the walked folders."""

from __future__ import annotations

import random

from lucida.scan import is_under, under_any


def test_under_any_agrees_with_is_under_on_random_paths():
    rng = random.Random(7)
    parts = ["a", "ab", "b", "photos", "photos 2024", "x.jpg"]

    def random_path() -> str:
        return "/" + "/".join(rng.choice(parts) for _ in range(rng.randint(0, 4)))

    for _ in range(300):
        folders = [random_path() + rng.choice(["", "/"]) for _ in range(rng.randint(0, 4))]
        test = under_any(folders)
        for _ in range(20):
            path = random_path()
            assert test(path) == any(is_under(path, f) for f in folders), (path, folders)


def test_prefix_of_a_name_is_not_containment():
    test = under_any(["/photos/2024"])
    assert test("/photos/2024/a.jpg") and test("/photos/2024")
    assert not test("/photos/2024-06/a.jpg") and not test("/photos")

"""Library roots by name: one share, mounted at different places, is one set of photos."""

import pytest

from lucida.config import Config
from lucida.errors import LucidaError
from lucida.named_roots import NamedRoots


def test_paths_under_a_named_root_are_kept_by_name_and_given_back_at_this_machines_mount():
    roots = NamedRoots.of({"nas": "/mnt/photos/", "raw": "/mnt/photos/raw"})
    assert roots.stored("/mnt/photos/2024/a.jpg") == "@nas/2024/a.jpg"
    assert roots.stored("/mnt/photos/raw/b.dng") == "@raw/b.dng"  # the deeper root wins
    assert roots.stored("/mnt/photos") == "@nas"
    assert roots.stored("/mnt/photos-old/c.jpg") == "/mnt/photos-old/c.jpg"  # not under it
    elsewhere = NamedRoots.of({"nas": "/Volumes/photos"})
    assert elsewhere.local(roots.stored("/mnt/photos/2024/a.jpg")) == "/Volumes/photos/2024/a.jpg"
    assert elsewhere.local("@raw/b.dng") == "@raw/b.dng"  # a root this machine has not named
    assert NamedRoots().stored("/a/b.jpg") == "/a/b.jpg" == NamedRoots().local("/a/b.jpg")


def test_bad_roots_in_the_config_file_are_one_line_each(tmp_path):
    for body, message in (
        ('[roots]\nnas = "photos"\n', "is not an absolute folder"),
        ('[roots]\n"my nas" = "/mnt"\n', "use letters, digits"),
        ("[roots]\nnas = 3\n", "must be a non-empty string"),
    ):
        (tmp_path / "c.toml").write_text(body)
        with pytest.raises(LucidaError, match=message):
            Config.load(tmp_path / "c.toml").named_roots()

"""Metadata out: lucida's caption and keywords written into XMP for Lightroom, DxO PhotoLab,
darktable and digiKam, through ExifTool, and taken out again exactly (`--undo`).

What is written, per photo:
- dc:description: the photo's caption, the text every front end shows for it (its preferred
  description, lucida.catalog.store).
  A description someone else wrote stays unless `overwrite_description` is set.
- dc:subject: keywords from the describer's structured output: a describer that lists
  "keywords" gives those; the ImageNet classifier gives its likely classes (probability at
  least 10%, at most five, always its top class), named by their first WordNet lemma.
- lr:hierarchicalSubject: the same keywords under a parent, "lucida|espresso".

Where: a sidecar `IMG_0001.xmp` beside the photo by default (what Lightroom and DxO PhotoLab
read for RAW files), `IMG_0001.NEF.xmp` with the filename.ext.xmp style (darktable, digiKam),
or with `embed` inside JPEG, TIFF and DNG files themselves. Photos are never written otherwise.

An existing sidecar is edited in place by ExifTool, which keeps every other field. The catalog
records what each export added (table xmp_writes), so a later export replaces only lucida's own
entries and `undo_xmp` removes exactly them, deleting a sidecar lucida created once nothing else
is left in it.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field

from lucida.catalog import Catalog
from lucida.catalog.store import StoredDescription, XmpWrite
from lucida.errors import LucidaError
from lucida.media import RAW_EXTENSIONS
from lucida.metadata import SIDECAR_EXTENSION, exiftool_executable

SIDECAR_STYLES = ("basename.xmp", "filename.ext.xmp")
EMBEDDABLE_EXTENSIONS = frozenset({".jpg", ".jpeg", ".tif", ".tiff", ".dng"})
DEFAULT_PARENT = "lucida"
KEYWORD_MIN_PROBABILITY = 0.10
MAX_KEYWORDS = 5

_DESCRIPTION, _SUBJECT, _HIERARCHY = "XMP-dc:Description", "XMP-dc:Subject", "XMP-lr:HierarchicalSubject"


@dataclass(frozen=True)
class ExportOptions:
    parent: str = DEFAULT_PARENT  # parent of the hierarchical keywords; "a|b" nests deeper
    sidecar_style: str = "basename.xmp"
    overwrite_description: bool = False
    embed: bool = False  # write into JPEG, TIFF and DNG files instead of sidecars
    dry_run: bool = False


@dataclass
class Change:
    """What one export or undo does (or, in a dry run, would do) to one file."""

    target: str
    photo: str
    create: bool = False  # a new sidecar
    delete: bool = False  # a sidecar lucida created, now empty, removed
    description: str | None = None  # written to dc:description
    description_removed: bool = False
    kept_description: str | None = None  # someone else's description, left as it is
    add_keywords: list[str] = field(default_factory=list)
    remove_keywords: list[str] = field(default_factory=list)
    add_hierarchical: list[str] = field(default_factory=list)
    remove_hierarchical: list[str] = field(default_factory=list)

    @property
    def changes_anything(self) -> bool:
        return bool(
            self.create or self.delete or self.description is not None or self.description_removed
            or self.add_keywords or self.remove_keywords or self.add_hierarchical or self.remove_hierarchical
        )  # fmt: skip

    def summary(self) -> str:
        parts = []
        if self.create:
            parts.append("new sidecar")
        if self.delete:
            parts.append("sidecar removed")
        if self.description is not None:
            parts.append("description")
        if self.description_removed:
            parts.append("description removed")
        if self.kept_description is not None:
            parts.append("existing description kept (--overwrite-description replaces it)")
        for verb, words in (("+", self.add_keywords), ("-", self.remove_keywords)):
            if words:
                parts.append(f"keywords {verb}{', '.join(words)}")
        return "; ".join(parts) or "up to date"


def keywords_of(description: StoredDescription, classes: list[dict] | None = None) -> list[str]:
    """The keywords lucida gives a photo, from its description's structured output: the
    keywords it lists, else its likely classes, else `classes` (the photo's likely classes from
    another of its descriptions, Catalog.photo_classes: a caption lists none of its own)."""
    details = description.details or {}
    if isinstance(details.get("keywords"), list):
        words = [str(w) for w in details["keywords"]]
    else:
        classes = [c for c in details.get("classes") or classes or [] if isinstance(c, dict) and c.get("label")]
        words = [c["label"] for i, c in enumerate(classes) if i == 0 or c.get("p", 0) >= KEYWORD_MIN_PROBABILITY]
    # '|' separates levels of a hierarchical keyword; newlines would end ExifTool's argument.
    cleaned = (" ".join(w.replace("|", " ").split()) for w in words)
    return list(dict.fromkeys(w for w in cleaned if w))[:MAX_KEYWORDS]


def sidecar_path(photo: str, style: str) -> str:
    if style not in SIDECAR_STYLES:
        raise LucidaError(f"--sidecar-style must be one of {', '.join(SIDECAR_STYLES)}, not {style!r}")
    if style == "filename.ext.xmp":
        return photo + SIDECAR_EXTENSION
    return os.path.splitext(photo)[0] + SIDECAR_EXTENSION


def export_xmp(catalog: Catalog, roots: list[str] | None, options: ExportOptions) -> list[Change]:
    """Write lucida's caption and keywords for the indexed photos under `roots` (all when None).
    Returns one Change per file written (or that would be, with dry_run)."""
    parent = "|".join(p.strip() for p in options.parent.split("|") if p.strip())
    targets = _targets(catalog.files_under(roots), options)
    changes = []
    with _ExifTool() as tool:
        for target, (photo, image_id) in targets.items():
            record = catalog.image_record(image_id)
            description = record.preferred if record else None
            if description is None:
                continue
            keywords = keywords_of(description, catalog.photo_classes([image_id]).get(image_id))
            hierarchical = [f"{parent}|{k}" if parent else k for k in keywords]
            change, write = _plan(
                tool, catalog.xmp_write(target), target, photo, " ".join(description.text.split()),
                keywords, hierarchical, options,
            )  # fmt: skip
            changes.append(change)
            if options.dry_run or not change.changes_anything:
                continue
            tool.apply(change)
            with catalog.transaction():
                catalog.put_xmp_write(write)
    return changes


def undo_xmp(catalog: Catalog, roots: list[str] | None, dry_run: bool = False) -> list[Change]:
    """Remove what lucida's exports wrote into files of photos under `roots` (all when None):
    its keywords, its description (a description it replaced comes back), and sidecars it
    created that hold nothing else. What anyone else wrote since stays."""
    from lucida.scan import under_any

    inside = under_any(roots) if roots is not None else (lambda _path: True)
    changes = []
    with _ExifTool() as tool:
        for write in catalog.xmp_writes():
            if not inside(write.photo):
                continue
            change = Change(write.target, write.photo)
            if os.path.exists(write.target):
                current = tool.current(write.target)
                change.remove_keywords = [k for k in write.keywords if k in current.keywords]
                change.remove_hierarchical = [k for k in write.hierarchical_keywords if k in current.hierarchical]
                if write.description is not None and current.description == write.description:
                    if write.replaced_description is not None:
                        change.description = write.replaced_description
                    else:
                        change.description_removed = True
            changes.append(change)
            if dry_run:
                continue
            if os.path.exists(write.target):
                tool.apply(change)
                if write.created and not tool.has_any_xmp(write.target):
                    os.remove(write.target)
                    change.delete = True
            with catalog.transaction():
                catalog.delete_xmp_write(write.target)
    return changes


def _targets(files: list[tuple[str, int]], options: ExportOptions) -> dict[str, tuple[str, int]]:
    """target file -> (photo path, image id). Both files of a RAW+JPEG pair name the same
    `IMG_0001.xmp`; it is the RAW's, as in Lightroom and PhotoLab, so the RAW's caption goes there."""
    targets: dict[str, tuple[str, int]] = {}
    for photo, image_id in sorted(files, key=lambda f: (os.path.splitext(f[0])[1].lower() not in RAW_EXTENSIONS, f[0])):
        extension = os.path.splitext(photo)[1].lower()
        if options.embed and extension in EMBEDDABLE_EXTENSIONS:
            target = photo
        else:
            target = sidecar_path(photo, options.sidecar_style)
        targets.setdefault(target, (photo, image_id))
    return dict(sorted(targets.items()))


def _plan(
    tool: _ExifTool,
    previous: XmpWrite | None,
    target: str,
    photo: str,
    caption: str,
    keywords: list[str],
    hierarchical: list[str],
    options: ExportOptions,
) -> tuple[Change, XmpWrite]:
    """The change that brings `target` to lucida's current caption and keywords, keeping what
    others wrote, and the record of everything lucida will then have written into it."""
    exists = os.path.exists(target)
    current = tool.current(target) if exists else _Current()
    change = Change(target, photo, create=not exists)
    ours_before = previous if previous is not None and exists else None

    def merge(wanted: list[str], present: list[str], added_before: tuple[str, ...]) -> tuple[list[str], list[str], tuple[str, ...]]:
        """(to add, to remove, lucida's entries afterwards) for one list field."""
        foreign = [k for k in present if k not in added_before]
        add = [k for k in wanted if k not in present]
        remove = [k for k in added_before if k in present and k not in wanted]
        ours = tuple(k for k in wanted if k not in foreign)
        return add, remove, ours

    change.add_keywords, change.remove_keywords, our_keywords = merge(
        keywords, current.keywords, ours_before.keywords if ours_before else ()
    )
    change.add_hierarchical, change.remove_hierarchical, our_hierarchy = merge(
        hierarchical, current.hierarchical, ours_before.hierarchical_keywords if ours_before else ()
    )

    written, replaced = None, ours_before.replaced_description if ours_before else None
    ours = ours_before is not None and ours_before.description is not None and current.description == ours_before.description
    if not current.description or ours or options.overwrite_description:
        if not current.description:  # someone emptied it since: nothing to give back on undo
            replaced = None
        elif not ours:
            replaced = current.description
        written = caption
        if current.description != caption:
            change.description = caption
    else:
        change.kept_description = current.description
    record = XmpWrite(
        target, photo, created=not exists or (ours_before is not None and ours_before.created),
        description=written, replaced_description=replaced if written is not None else None,
        keywords=our_keywords, hierarchical_keywords=our_hierarchy,
    )  # fmt: skip
    return change, record


@dataclass
class _Current:
    description: str | None = None
    keywords: list[str] = field(default_factory=list)
    hierarchical: list[str] = field(default_factory=list)


class _ExifTool:
    """ExifTool in -stay_open mode for one export or undo: reads the fields lucida writes and
    applies Changes."""

    def __enter__(self) -> _ExifTool:
        import exiftool

        self._tool = exiftool.ExifToolHelper(executable=exiftool_executable(), common_args=["-charset", "filename=utf8"])
        self._tool.run()
        return self

    def __exit__(self, *exc) -> None:
        self._tool.terminate()

    def current(self, target: str) -> _Current:
        tags = self._tags(target, [_DESCRIPTION, _SUBJECT, _HIERARCHY])
        return _Current(
            description=_one(tags.get(_DESCRIPTION)),
            keywords=_many(tags.get(_SUBJECT)),
            hierarchical=_many(tags.get(_HIERARCHY)),
        )

    def has_any_xmp(self, target: str) -> bool:
        """Whether the file holds any XMP property (ExifTool's own toolkit note aside)."""
        tags = self._tags(target, ["XMP:all"])
        return any(not key.endswith(("XMPToolkit", "SourceFile")) for key in tags)

    def apply(self, change: Change) -> None:
        args = []
        if change.description is not None:
            args.append(f"-{_DESCRIPTION}={change.description}")
        elif change.description_removed:
            args.append(f"-{_DESCRIPTION}=")
        for tag, remove, add in (
            (_SUBJECT, change.remove_keywords, change.add_keywords),
            (_HIERARCHY, change.remove_hierarchical, change.add_hierarchical),
        ):
            args += [f"-{tag}-={k}" for k in remove] + [f"-{tag}+={k}" for k in add]
        if not args:
            return
        if os.path.exists(change.target):
            # In place: the file keeps its inode, owner and permissions (a sidecar an editor watches).
            args += ["-overwrite_original_in_place", change.target]
        else:
            args += ["-o", change.target]
        self._execute(args, change.target)

    def _tags(self, target: str, tags: list[str]) -> dict:
        import exiftool.exceptions

        try:
            rows = self._tool.get_tags([target], tags, params=["-G1"])
        except exiftool.exceptions.ExifToolException as error:
            raise LucidaError(f"cannot read the XMP of {target}: {_first_line(error)}") from None
        return rows[0] if rows else {}

    def _execute(self, args: list[str], target: str) -> None:
        import exiftool.exceptions

        try:
            self._tool.execute(*args)
        except exiftool.exceptions.ExifToolException as error:
            raise LucidaError(f"exiftool could not write {target}: {_first_line(error)}") from None


def _one(value: object) -> str | None:
    if isinstance(value, list):
        value = value[0] if value else None
    return str(value) if value not in (None, "") else None


def _many(value: object) -> list[str]:
    values = value if isinstance(value, list) else [value] if value not in (None, "") else []
    return [str(v) for v in values]


def _first_line(error: Exception) -> str:
    text = str(getattr(error, "stderr", "") or error).strip()
    return text.splitlines()[0] if text else type(error).__name__

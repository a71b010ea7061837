"""Metadata out: lucida's caption and keywords written into XMP for Lightroom, DxO PhotoLab,
darktable and digiKam, through ExifTool, and taken out again exactly (`--undo`).

What is written, per photo:
- dc:description: the photo's caption, the text every front end shows for it (its preferred
  description, lucida.catalog.store, as lucida.display words it: class names, no WordNet
  definitions), as its default-language (x-default) entry.
  A description someone else wrote there stays unless `overwrite_description` is set; entries in
  other languages are never touched.
- dc:subject: keywords from the describer's structured output: a describer that lists
  "keywords" gives those; the ImageNet classifier gives its likely classes (probability at
  least 10%, at most five, always its top class), named by their first WordNet lemma.
- lr:hierarchicalSubject: the same keywords under a parent, "lucida|espresso".
- The people in the photo, one per named face (lucida.people): an MWG face region
  (mwg-rs:Regions, as Lightroom and digiKam read and write them) around the face, named, with the
  photo's AppliedToDimensions when lucida adds the first region; and an Iptc4xmpExt:PersonInImage
  entry. A name the file already holds in a region, or in PersonInImage, is not written there
  again; regions are measured on the stored pixels, as MWG says (lucida.metadata.mwg_area).

Where: a sidecar `IMG_0001.xmp` beside the photo by default (what Lightroom and DxO PhotoLab
read for RAW files), `IMG_0001.NEF.xmp` with the filename.ext.xmp style (darktable, digiKam),
or with `embed` inside JPEG, TIFF and DNG files themselves. Photos are never written otherwise.
A RAW+JPEG pair shares the RAW's `IMG_0001.xmp`; two other photos that would share one (IMG.jpg
and IMG.png) are both left alone, since each export would overwrite the other's caption.

A file lucida cannot safely write is skipped, with the reason in its Change, and the export
goes on: a sidecar ExifTool cannot read or write, a folder, or a link out of the photo's folder
(written through, it would change a file elsewhere, perhaps outside the library).

An existing sidecar is edited in place by ExifTool, which keeps every other field. The catalog
records what each export added (table xmp_writes), so a later export replaces only lucida's own
entries and `undo_xmp` removes exactly them (its regions and PersonInImage entries by name, and
the RegionInfo structure itself when lucida created it and no one else's region is left in it),
deleting a sidecar lucida created once nothing else is left in it.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field

from lucida.catalog import Catalog
from lucida.catalog.store import ImageRecord, StoredDescription, XmpWrite
from lucida.errors import LucidaError
from lucida.media import RAW_EXTENSIONS
from lucida.metadata import (
    SIDECAR_EXTENSION, FaceRegion, exiftool_executable, measured_on_stored_pixels, mwg_area, region_dimensions,
    region_name,
)  # fmt: skip

SIDECAR_STYLES = ("basename.xmp", "filename.ext.xmp")
EMBEDDABLE_EXTENSIONS = frozenset({".jpg", ".jpeg", ".tif", ".tiff", ".dng"})
DEFAULT_PARENT = "lucida"
KEYWORD_MIN_PROBABILITY = 0.10
MAX_KEYWORDS = 5

_DESCRIPTION, _SUBJECT, _HIERARCHY = "XMP-dc:Description", "XMP-dc:Subject", "XMP-lr:HierarchicalSubject"
# dc:description is a lang-alt: the bare tag reads the x-default entry, but writing or deleting it
# drops every other language; ExifTool leaves those alone when the write names x-default.
_DEFAULT_DESCRIPTION = f"{_DESCRIPTION}-x-default"
_REGIONS, _REGION_LIST = "XMP-mwg-rs:RegionInfo", "XMP-mwg-rs:RegionList"
_DIMENSIONS = "XMP-mwg-rs:RegionAppliedToDimensions"  # its W, H and Unit fields, as flattened tags
_PERSON = "XMP-iptcExt:PersonInImage"
# Asked for with every read: ExifTool's verdict on the file, taken out of the tags it returns.
_VERDICT = ("ExifTool:Error", "ExifTool:Warning", "File:FileType")


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
    add_regions: list[tuple[str, dict[str, float]]] = field(default_factory=list)  # (name, MWG Area) of each
    remove_regions: list[str] = field(default_factory=list)  # names of lucida's regions taken out
    region_dimensions: tuple[int, int] | None = None  # AppliedToDimensions (W, H), written with the first regions
    remove_region_info: bool = False  # the RegionInfo lucida created goes, with nothing of anyone else's in it
    add_people: list[str] = field(default_factory=list)  # PersonInImage
    remove_people: list[str] = field(default_factory=list)
    skipped: str | None = None  # why the file was left alone; nothing was written to it

    @property
    def changes_anything(self) -> bool:
        return not self.skipped and bool(
            self.create or self.delete or self.description is not None or self.description_removed
            or self.add_keywords or self.remove_keywords or self.add_hierarchical or self.remove_hierarchical
            or self.add_regions or self.remove_regions or self.remove_region_info or self.add_people
            or self.remove_people
        )  # fmt: skip

    def summary(self) -> str:
        if self.skipped:
            return f"skipped: {self.skipped}"
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
        added = [name for name, _ in self.add_regions] + self.add_people
        for verb, names in (("+", added), ("-", self.remove_regions + self.remove_people)):
            if names:
                parts.append(f"people {verb}{', '.join(dict.fromkeys(names))}")
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
    """Write lucida's caption, keywords and named faces for the indexed photos under `roots`
    (all when None). Returns one Change per file written (or that would be, with dry_run), and
    one per file left alone, its reason in `skipped`."""
    parent = "|".join(p.strip() for p in options.parent.split("|") if p.strip())
    wanted = {path for path, _ in catalog.files_under(roots)}
    changes = []
    with _ExifTool() as tool:
        # Every catalogued file, not only those under roots: one outside them can share a sidecar.
        for target, files in _targets(catalog.files_under(None), options).items():
            if not any(photo in wanted for photo, _ in files):
                continue
            photo, image_id = files[0]
            if clash := _clash(files):
                changes.append(Change(target, photo, skipped=clash))
                continue
            record = catalog.image_record(image_id)
            description = record.preferred if record else None
            if description is None:
                continue
            keywords = keywords_of(description, catalog.photo_classes([image_id]).get(image_id))
            hierarchical = [f"{parent}|{k}" if parent else k for k in keywords]
            try:
                people = _people(catalog, tool, photo, record)
                change, write = _plan(
                    tool, catalog.xmp_write(target), target, photo, description.display,
                    keywords, hierarchical, people, options,
                )  # fmt: skip
                if not options.dry_run and change.changes_anything:
                    tool.apply(change)
            except _Skipped as reason:
                changes.append(Change(target, photo, skipped=str(reason)))
                continue
            changes.append(change)
            if options.dry_run or not change.changes_anything:
                continue
            with catalog.transaction():
                catalog.put_xmp_write(write)
    return changes


def undo_xmp(catalog: Catalog, roots: list[str] | None, dry_run: bool = False) -> list[Change]:
    """Remove what lucida's exports wrote into files of photos under `roots` (all when None):
    its keywords, its description (a description it replaced comes back), its face regions and
    PersonInImage entries, and sidecars it created that hold nothing else. What anyone else wrote since stays. A file that cannot be
    safely changed is skipped (Change.skipped) and stays on record for a later undo."""
    from lucida.scan import under_any

    inside = under_any(roots) if roots is not None else (lambda _path: True)
    changes = []
    with _ExifTool() as tool:
        for write in catalog.xmp_writes():
            if not inside(write.photo):
                continue
            change = Change(write.target, write.photo)
            try:
                if os.path.lexists(write.target):
                    _check_target(write.target, write.photo)
                    current = tool.current(write.target)
                    change.remove_keywords = [k for k in write.keywords if k in current.keywords]
                    change.remove_hierarchical = [k for k in write.hierarchical_keywords if k in current.hierarchical]
                    change.remove_regions = _present(write.people, current.region_names)
                    change.remove_people = _present(write.people_in_image, current.people)
                    change.remove_region_info = _only_ours(current, change.remove_regions, write.created_regions)
                    if write.description is not None and current.description == write.description:
                        if write.replaced_description is not None:
                            change.description = write.replaced_description
                        else:
                            change.description_removed = True
                    if not dry_run:
                        tool.apply(change)
                        if write.created and not tool.has_any_xmp(write.target):
                            os.remove(write.target)
                            change.delete = True
            except _Skipped as reason:
                changes.append(Change(write.target, write.photo, skipped=str(reason)))
                continue
            changes.append(change)
            if dry_run:
                continue
            with catalog.transaction():
                catalog.delete_xmp_write(write.target)
    return changes


def _targets(files: list[tuple[str, int]], options: ExportOptions) -> dict[str, list[tuple[str, int]]]:
    """target file -> (photo path, image id) of each file whose metadata goes there, RAW files
    first. Both files of a RAW+JPEG pair name the same `IMG_0001.xmp`; it is the RAW's, as in
    Lightroom and PhotoLab, so the RAW's caption goes there."""
    targets: dict[str, list[tuple[str, int]]] = {}
    for photo, image_id in sorted(files, key=lambda f: (os.path.splitext(f[0])[1].lower() not in RAW_EXTENSIONS, f[0])):
        extension = os.path.splitext(photo)[1].lower()
        if options.embed and extension in EMBEDDABLE_EXTENSIONS:
            target = photo
        else:
            target = sidecar_path(photo, options.sidecar_style)
        targets.setdefault(target, []).append((photo, image_id))
    return dict(sorted(targets.items()))


def _clash(files: list[tuple[str, int]]) -> str | None:
    """Why the files naming one sidecar (_targets) must all be left alone, or None. They are one
    photo when they are one image, or one RAW with the JPEG the camera wrote beside it
    (lucida.pairs); otherwise, say IMG.jpg and IMG.png, each export would overwrite the other's."""
    raws = sum(os.path.splitext(photo)[1].lower() in RAW_EXTENSIONS for photo, _ in files)
    if len({image_id for _, image_id in files}) == 1 or raws == 1:
        return None
    names = [os.path.basename(photo) for photo, _ in files]
    return (
        f"{', '.join(names[:-1])} and {names[-1]} would share this sidecar; "
        "--sidecar-style filename.ext.xmp gives each its own"
    )


def _check_target(target: str, photo: str) -> None:
    """Raise _Skipped when lucida must not write `target`, `photo`'s sidecar or the photo itself."""
    if os.path.islink(target):
        real = os.path.realpath(target)
        if os.path.dirname(real) != os.path.realpath(os.path.dirname(photo)):
            raise _Skipped(f"a link to {real}, outside the photo's folder; lucida writes only beside the photo")
    if os.path.lexists(target) and not os.path.isfile(target):
        raise _Skipped("a folder, not a file" if os.path.isdir(target) else "not a regular file")
    # Root ignores permission bits but not the immutable flag, and access() reports both.
    if not os.access(target if os.path.exists(target) else os.path.dirname(target), os.W_OK):
        raise _Skipped("read-only" if os.path.exists(target) else "its folder is read-only")


def _people(catalog: Catalog, tool: _ExifTool, photo: str, record: ImageRecord) -> _PhotoPeople:
    """The named faces of the photo, one per person (the detector's surest face of each), and,
    when there are any, how the photo's pixels are stored."""
    chosen: dict[str, FaceRegion] = {}
    for face in sorted(catalog.faces_in(record.image_id), key=lambda f: -f.score):
        # Newlines would end ExifTool's argument; names are whitespace-normalized anyway.
        name = " ".join((face.person or "").split())
        if name and name.casefold() not in chosen:
            chosen[name.casefold()] = FaceRegion(name, face.box)
    if not chosen:
        return _PhotoPeople([])
    orientation = tool.orientation(photo)
    size = (record.width, record.height) if record.width and record.height else None
    if size is not None and orientation in (5, 6, 7, 8):  # the catalog's size is the photo as displayed
        size = (size[1], size[0])
    return _PhotoPeople(sorted(chosen.values(), key=lambda r: r.box[0]), orientation, size)


def _plan(
    tool: _ExifTool,
    previous: XmpWrite | None,
    target: str,
    photo: str,
    caption: str,
    keywords: list[str],
    hierarchical: list[str],
    people: _PhotoPeople,
    options: ExportOptions,
) -> tuple[Change, XmpWrite]:
    """The change that brings `target` to lucida's current caption, keywords and people, keeping
    what others wrote, and the record of everything lucida will then have written into it.
    Raises _Skipped for a target lucida cannot safely write."""
    _check_target(target, photo)
    exists = os.path.exists(target)
    current = tool.current(target) if exists else _Current()
    change = Change(target, photo, create=not exists)
    ours_before = previous if previous is not None and exists else None

    change.add_keywords, change.remove_keywords, our_keywords = _merge(
        keywords, current.keywords, ours_before.keywords if ours_before else ()
    )
    change.add_hierarchical, change.remove_hierarchical, our_hierarchy = _merge(
        hierarchical, current.hierarchical, ours_before.hierarchical_keywords if ours_before else ()
    )

    # People: names compare as the catalog compares them, ignoring case.
    names = [r.name for r in people.regions]
    add_regions, change.remove_regions, our_regions = _merge(
        names, current.region_names, ours_before.people if ours_before else (), str.casefold
    )
    change.add_people, change.remove_people, our_people = _merge(
        names, current.people, ours_before.people_in_image if ours_before else (), str.casefold
    )
    created_regions = current.region_info is not None and ours_before is not None and ours_before.created_regions
    if add_regions:
        applied_to = region_dimensions(current.region_info)
        if current.region_info is None:
            created_regions = True
            if people.stored_size is not None:
                change.region_dimensions = people.stored_size
        # Measured as the file's other regions are: MWG's stored pixels, unless its
        # AppliedToDimensions say its writer measured the photo as displayed.
        on_stored = measured_on_stored_pixels(applied_to, people.orientation, people.stored_size)
        change.add_regions = [
            (r.name, mwg_area(r.box, people.orientation, on_stored)) for r in people.regions if r.name in add_regions
        ]
    elif _only_ours(current, change.remove_regions, created_regions):
        change.remove_region_info, created_regions = True, False

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
        people=our_regions, people_in_image=our_people, created_regions=created_regions,
    )  # fmt: skip
    return change, record


def _merge(
    wanted: list[str], present: list[str], added_before: tuple[str, ...], key=lambda value: value
) -> tuple[list[str], list[str], tuple[str, ...]]:
    """(to add, to remove, lucida's entries afterwards) for one list field: what is there and
    lucida did not add is someone else's and stays; `key` says when two entries are the same."""
    present_keys, before_keys, wanted_keys = ({key(v) for v in values} for values in (present, added_before, wanted))
    foreign = {key(v) for v in present if key(v) not in before_keys}
    add = [v for v in wanted if key(v) not in present_keys]
    remove = [v for v in added_before if key(v) in present_keys and key(v) not in wanted_keys]
    ours = tuple(v for v in wanted if key(v) not in foreign)
    return add, remove, ours


def _present(names: tuple[str, ...], present: list[str]) -> list[str]:
    """The names (lucida's) that are still in the file, ignoring case."""
    there = {n.casefold() for n in present}
    return [n for n in names if n.casefold() in there]


def _only_ours(current: _Current, removing: list[str], created: bool) -> bool:
    """Whether the RegionInfo goes as a whole: lucida created it, and once `removing` (lucida's
    regions) is out, it holds no one else's region. Its AppliedToDimensions then describe nothing."""
    if not created or current.region_info is None or not removing:
        return False
    gone = {n.casefold() for n in removing}
    return all(region_name(r).casefold() in gone for r in current.region_list)


class _Skipped(Exception):
    """Why one file is left alone; the export or undo goes on with the next."""


@dataclass(frozen=True)
class _PhotoPeople:
    """The people lucida writes for one photo, and how the photo's pixels are stored."""

    regions: list[FaceRegion]  # one per person, on the photo as displayed
    orientation: int | None = None  # the photo's own EXIF orientation, which lucida's decoder applies
    stored_size: tuple[int, int] | None = None  # width and height of its pixels as stored


@dataclass
class _Current:
    description: str | None = None
    keywords: list[str] = field(default_factory=list)
    hierarchical: list[str] = field(default_factory=list)
    region_info: dict | None = None  # the MWG RegionInfo structure, as ExifTool's -struct reads it
    people: list[str] = field(default_factory=list)  # PersonInImage

    @property
    def region_list(self) -> list:
        regions = (self.region_info or {}).get("RegionList")
        return regions if isinstance(regions, list) else []

    @property
    def region_names(self) -> list[str]:
        """The names of the regions, of every type."""
        return [name for name in map(region_name, self.region_list) if name]


class _ExifTool:
    """ExifTool in -stay_open mode for one export or undo: reads the fields lucida writes and
    applies Changes."""

    def __enter__(self) -> _ExifTool:
        import exiftool

        # Exit statuses are checked here: on a file it cannot read ExifTool exits 1 but still
        # returns its tags, the reason among them.
        self._tool = exiftool.ExifToolHelper(
            executable=exiftool_executable(), common_args=["-charset", "filename=utf8"], check_execute=False
        )
        self._tool.run()
        return self

    def __exit__(self, *exc) -> None:
        self._tool.terminate()

    def current(self, target: str) -> _Current:
        tags = self._tags(target, [_DESCRIPTION, _SUBJECT, _HIERARCHY, _REGIONS, _PERSON])
        regions = tags.get(_REGIONS)
        return _Current(
            description=_one(tags.get(_DESCRIPTION)),
            keywords=_many(tags.get(_SUBJECT)),
            hierarchical=_many(tags.get(_HIERARCHY)),
            region_info=regions if isinstance(regions, dict) else None,
            people=_many(tags.get(_PERSON)),
        )

    def orientation(self, photo: str) -> int | None:
        """The photo's own EXIF orientation (the one lucida's decoder applies), which turns its
        faces' boxes onto its stored pixels; None when it has none."""
        try:
            tags = self._tags(photo, ["Orientation#"])
        except _Skipped as reason:
            raise _Skipped(f"cannot read the photo's orientation for its face regions: {reason}") from None
        value = next((v for k, v in tags.items() if k.split(":")[-1] == "Orientation"), None)
        return value if isinstance(value, int) else None

    def has_any_xmp(self, target: str) -> bool:
        """Whether the file holds any XMP property (ExifTool's own toolkit note aside)."""
        tags = self._tags(target, ["XMP:all"])
        return any(not key.endswith(("XMPToolkit", "SourceFile")) for key in tags)

    def apply(self, change: Change) -> None:
        args = []
        if change.description is not None:
            args.append(f"-{_DEFAULT_DESCRIPTION}={change.description}")
        elif change.description_removed:
            args.append(f"-{_DEFAULT_DESCRIPTION}=")
        for tag, remove, add in (
            (_SUBJECT, change.remove_keywords, change.add_keywords),
            (_HIERARCHY, change.remove_hierarchical, change.add_hierarchical),
            (_PERSON, change.remove_people, change.add_people),
        ):
            args += [f"-{tag}-={k}" for k in remove] + [f"-{tag}+={k}" for k in add]
        if change.remove_region_info:
            args.append(f"-{_REGIONS}=")
        else:
            # A structure in a list goes when every field given matches (ExifTool's struct.html).
            args += [f"-{_REGION_LIST}-={{Name={_serialized(name)},Type=Face}}" for name in change.remove_regions]
        if change.region_dimensions is not None:
            width, height = change.region_dimensions
            args += [f"-{_DIMENSIONS}W={width}", f"-{_DIMENSIONS}H={height}", f"-{_DIMENSIONS}Unit=pixel"]
        for name, area in change.add_regions:
            box = ",".join(f"{k}={area[k]}" for k in ("X", "Y", "W", "H"))
            args.append(f"-{_REGION_LIST}+={{Area={{{box},Unit=normalized}},Name={_serialized(name)},Type=Face}}")
        if not args:
            return
        if os.path.exists(change.target):
            # In place: the file keeps its inode, owner and permissions (a sidecar an editor watches).
            args += ["-overwrite_original_in_place", change.target]
        else:
            args += ["-o", change.target]
        self._execute(args, change.target)

    def _tags(self, target: str, tags: list[str]) -> dict:
        """The tags ExifTool reads from `target`; raises _Skipped for a file it cannot read, or a
        sidecar that is not XMP (ExifTool would refuse to write either)."""
        import exiftool.exceptions

        try:
            # -struct: RegionInfo as one structure, not as flattened lists of its fields.
            rows = self._tool.get_tags([target], [*tags, *_VERDICT], params=["-G1", "-struct"])
        except exiftool.exceptions.ExifToolExecuteException as error:
            raise _Skipped(f"ExifTool cannot read it: {_first_error(error.stderr or str(error))}") from None
        except exiftool.exceptions.ExifToolException as error:
            raise LucidaError(f"cannot read the XMP of {target}: {_first_error(str(error))}") from None
        tags = rows[0] if rows else {}
        error, warning, file_type = (tags.pop(key, None) for key in _VERDICT)
        if error or "XMP format error" in str(warning or ""):
            raise _Skipped(f"ExifTool cannot read it: {error or warning}")
        if target.lower().endswith(SIDECAR_EXTENSION) and file_type != "XMP":
            raise _Skipped(f"not XMP (ExifTool reads it as {file_type or 'unknown'})")
        return tags

    def _execute(self, args: list[str], target: str) -> None:
        import exiftool.exceptions

        try:
            self._tool.execute(*args)
        except exiftool.exceptions.ExifToolException as error:
            raise LucidaError(f"exiftool could not write {target}: {_first_error(str(error))}") from None
        if self._tool.last_status:
            raise _Skipped(f"ExifTool could not write it: {_first_error(self._tool.last_stderr or '')}")


def _one(value: object) -> str | None:
    if isinstance(value, list):
        value = value[0] if value else None
    return str(value) if value not in (None, "") else None


def _many(value: object) -> list[str]:
    values = value if isinstance(value, list) else [value] if value not in (None, "") else []
    return [str(v) for v in values]


def _serialized(text: str) -> str:
    """A value for ExifTool's serialized structures: '|' escapes the characters that structure
    (ExifTool's struct.html: escaping any other character is harmless)."""
    return "".join(f"|{c}" if c in "|,{}[]" else c for c in text)


def _first_error(text: str) -> str:
    """ExifTool's first "Error:" line in `text` (warnings come before it), else its first line."""
    lines = [line.strip() for line in text.splitlines() if line.strip()]
    return next((line for line in lines if line.startswith("Error")), lines[0] if lines else "no reason given")

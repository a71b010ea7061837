"""The command line's `faces` and `people` commands: a thin layer over Library (lucida.people)."""

from __future__ import annotations

import json
from pathlib import Path

import click

from lucida.cli_runs import resumable_run


@click.command()
@click.option("--limit", type=click.IntRange(min=1), help="Read at most N photos in this run.")
@click.option("--recluster", is_flag=True, help="Then group every face again from scratch (names stay).")
@click.option("-q", "--quiet", is_flag=True, help="No progress and no summary; errors only.")
@click.pass_obj
def faces(db: str | Path, limit: int | None, recluster: bool, quiet: bool) -> None:
    """Find and describe the faces in indexed photos and group them into people. Resumable: run it
    again to continue, or to retry photos that could not be read. Faces stay in the catalog;
    nothing is sent anywhere."""
    from lucida.library import Library
    from lucida.progress import progress_for

    with Library.open(db) as library:
        with resumable_run():
            summary = library.find_faces(progress_for(quiet), limit)
        groups = library.recluster() if recluster else None
        counts = library.face_counts()
    if quiet:
        return
    click.echo(
        f"{summary.photos} photos read for faces in {summary.seconds:.1f} s: {summary.faces} faces found"
        + (f", {summary.named_from_metadata} named from their metadata" if summary.named_from_metadata else "")
        + (f"; {summary.failed} could not be read, tried again next run (`lucida status` says why)" if summary.failed else "")
        + (f"; {summary.remaining} left for a later run" if summary.remaining else "")
        + (f"; regrouped into {groups} groups" if groups is not None else "")
        + f". The catalog holds {counts.faces} faces: {counts.people} named people and {counts.clusters} unnamed groups"
        + " (`lucida people` lists them)."
    )


@click.group(invoke_without_command=True)
@click.option("--json", "as_json", is_flag=True, help="Print one JSON object.")
@click.pass_context
def people(ctx: click.Context, as_json: bool) -> None:
    """The people found in your photos: named people, then unnamed groups of faces (by number).

    Name a group with `lucida people name 12 "Grace Hopper"`; then "Grace Hopper in uniform" and
    `lucida search --person "Grace Hopper"` find her photos."""
    if ctx.invoked_subcommand is not None:
        return
    from lucida.library import Library

    with Library.open(ctx.obj) as library:
        groups = library.people()
        samples = {g.sample_image: library.record(g.sample_image) for g in groups}
    if as_json:
        click.echo(json.dumps([
            {"name": g.name, "group": g.cluster, "faces": g.faces, "photos": g.photos, "sample_face": g.sample_face,
             "sample_photo": _path(samples[g.sample_image])}
            for g in groups
        ], ensure_ascii=False))  # fmt: skip
        return
    if not groups:
        click.echo("no faces yet; run `lucida faces` (or set [index] faces = true in the config)")
        return
    for g in groups:
        who = g.name or f"#{g.cluster}"
        click.echo(
            f"{who:<28} {g.faces:>5} {_noun(g.faces, 'face')} in {g.photos:>5} {_noun(g.photos, 'photo')}   "
            f"e.g. {_path(samples[g.sample_image])}"
        )


def _noun(count: int, noun: str) -> str:
    return noun if count == 1 else noun + "s"


def _path(record) -> str | None:
    return record.files[0].path if record and record.files else None


@people.command()
@click.argument("group")
@click.pass_obj
def show(db: str | Path, group: str) -> None:
    """The faces of a person (by name) or of a group (by number), with each face's number."""
    from lucida.library import Library

    with Library.open(db) as library:
        found = library.group_faces(group)
        records = {f.image_id: library.record(f.image_id) for f in found}
    for f in found:
        x, y, w, h = f.box
        click.echo(f"face {f.id:<7} {_path(records[f.image_id])}  at {x:.2f},{y:.2f} size {w:.2f}x{h:.2f}"
                   + (f"  ({f.person})" if f.person else ""))  # fmt: skip


@people.command()
@click.argument("group")
@click.argument("name")
@click.pass_obj
def name(db: str | Path, group: str, name: str) -> None:
    """Name GROUP (a number from `lucida people`, or a person's name to rename them) NAME. A name
    another group already has makes the two one person."""
    from lucida.library import Library

    with Library.open(db) as library:
        count = library.name_person(group, name)
    click.echo(f"{count} {_noun(count, 'face')} named {' '.join(name.split())}")


@people.command()
@click.argument("group")
@click.argument("other")
@click.pass_obj
def merge(db: str | Path, group: str, other: str) -> None:
    """OTHER's faces join GROUP (numbers or names): one person."""
    from lucida.library import Library

    with Library.open(db) as library:
        count = library.merge_people(group, other)
    click.echo(f"{count} faces moved into {group}")


@people.command()
@click.argument("face", type=int)
@click.pass_obj
def split(db: str | Path, face: int) -> None:
    """Take a wrongly grouped FACE (a number from `lucida people show`) out of its group and name."""
    from lucida.library import Library

    with Library.open(db) as library:
        cluster = library.split_face(face)
    click.echo(f"face {face} is group #{cluster} now")


@people.command("not-person")
@click.argument("group", required=False)
@click.option("--face", type=int, help="One face (a number from `lucida people show`) instead of a group.")
@click.pass_obj
def not_person(db: str | Path, group: str | None, face: int | None) -> None:
    """Mark a group's faces (or one face) as not a person: a statue, a poster, a false detection."""
    from lucida.library import Library

    if (group is None) == (face is None):
        raise click.UsageError("give a GROUP or --face NUMBER")
    with Library.open(db) as library:
        count = library.not_a_person(group, face)
    click.echo(f"{count} {_noun(count, 'face')} marked as not a person")


@people.command()
@click.argument("name")
@click.pass_obj
def forget(db: str | Path, name: str) -> None:
    """Delete NAME's faces (boxes and descriptors) and name from the catalog."""
    from lucida.library import Library
    from lucida.web.renditions import default_thumbs_dir, forget_face_renditions

    with Library.open(db) as library:
        forgotten = library.forget_person(name)
        thumbs_dir = default_thumbs_dir(library.path)
    # The face crops `lucida serve` cached beside the catalog go too (a server given its own
    # --cache-dir deletes there when the person is forgotten through it).
    crops = forget_face_renditions(thumbs_dir, forgotten)
    click.echo(
        f"forgot {name}: {len(forgotten)} {_noun(len(forgotten), 'face')} deleted from the catalog"
        + (f", {crops} cached face {_noun(crops, 'picture')} deleted" if crops else "")
    )


@people.command()
@click.pass_obj
def recluster(db: str | Path) -> None:
    """Group every face again from scratch; names stay with the faces they were given to."""
    from lucida.library import Library

    with Library.open(db) as library:
        groups = library.recluster()
    click.echo(f"{groups} groups")

"""The `lucida` command line: a thin shell over the library."""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path
from typing import TYPE_CHECKING

import click

from lucida.cli_runs import resumable_run
from lucida.errors import LucidaError

# Each command imports the library, and whatever else it needs, when it runs: the library pulls
# in numpy, the catalog and the model registry (0.3 s of a 0.5 s start on 2 cores), and `lucida
# --help` or a mistyped option should answer at once (bench/cli_latency.py).
if TYPE_CHECKING:
    import threading

    from lucida.catalog.filter import PhotoFilter
    from lucida.library import Library
    from lucida.search import Searcher

# While the main thread runs the models, decode threads need the CPU too; torch's OpenMP threads
# otherwise spin between operations and take it from them (bench/index_throughput.py: about 20%
# more photos/s on 2 cores). Set for `index` only; OpenMP reads it when torch first loads.
INDEX_OMP_WAIT_POLICY = "PASSIVE"


EXPORT_PATTERN_HELP = (
    "How exported JPEGs are named, so they show as one photo with their RAW, e.g. '{stem}_DxO' "
    "or '{stem}-edit' (also $LUCIDA_EXPORT_PATTERN). RAW+JPEG pairs with one name are one photo anyway."
)


def default_catalog_path() -> Path:
    from platformdirs import user_data_path

    return user_data_path("lucida", appauthor=False) / "catalog.db"


class _Group(click.Group):
    """Prints a LucidaError as one line and exits 1; anything else is a bug and keeps its trace."""

    def invoke(self, ctx: click.Context):
        try:
            return super().invoke(ctx)
        except LucidaError as error:
            raise click.ClickException(str(error)) from None


@click.group(cls=_Group, context_settings={"help_option_names": ["-h", "--help"]})
@click.option(
    "--db",
    envvar="LUCIDA_DB",
    default=default_catalog_path,
    show_default="a catalog in the user data folder",
    help="Catalog: a SQLite file, or a PostgreSQL database shared by several machines as "
    "postgresql://user@host/db (also $LUCIDA_DB).",
)
@click.version_option(package_name="lucida")
@click.pass_context
def cli(ctx: click.Context, db: str | Path) -> None:
    """Semantic search for photo libraries."""
    from lucida.catalog_location import catalog_location

    ctx.obj = catalog_location(db)


@cli.command()
@click.argument("paths", nargs=-1, required=True, type=click.Path(path_type=str))
@click.option(
    "--captioner", "--describer", "describer",
    help="Model that describes each new photo: a registry name or explicit spec (see `lucida models list`; "
    "default: the config file's, else the catalog's, else the offline default).",
)
@click.option("--prompt", help="Prompt library name for a captioner that takes prompts.")
@click.option("--embedder", help="Embedder name or explicit spec, e.g. st:<folder> (default: config, catalog, offline default).")
@click.option("--api-base", help="OpenAI-compatible server for openai: models (default: the OpenAI API).")
@click.option("--batch-size", default=32, show_default=True, type=click.IntRange(1, 1024))
@click.option(
    "--ray", "ray_address", is_flag=False, flag_value="local", metavar="[ADDRESS]",
    help="Read, describe and embed on a Ray cluster: its address ('auto', 'ray://head:10001'), or none for one "
    "on this machine. Every worker must reach the photos at the paths given here.",
)
@click.option("--actors", type=click.IntRange(min=1), help="With --ray: describers to run at once (default: one per GPU, else one per two CPUs).")
@click.option("-q", "--quiet", is_flag=True, help="No progress and no summary; errors only.")
@click.pass_obj
def index(
    db: str | Path, paths: tuple[str, ...], describer: str | None, prompt: str | None, embedder: str | None,
    api_base: str | None, batch_size: int, ray_address: str | None, actors: int | None, quiet: bool,
) -> None:
    """Index the photos under PATHS (folders or files): decode, describe, embed, store."""
    os.environ.setdefault("OMP_WAIT_POLICY", INDEX_OMP_WAIT_POLICY)
    from lucida.indexer import existing_roots
    from lucida.library import Library
    from lucida.progress import progress_for

    existing_roots(paths)  # a mistyped path fails before a catalog is made or a model loads
    if actors and not ray_address:
        raise click.UsageError("--actors goes with --ray")
    with Library.open(db, create=True) as library, resumable_run():
        summary = library.index(
            paths, progress_for(quiet), batch_size, describer, prompt, embedder, api_base, ray_address, actors
        )
    if quiet:
        return
    indexed = summary.unchanged + summary.described + summary.reused
    click.echo(
        f"{indexed} photos indexed in {summary.seconds:.1f} s: {summary.described} described, "
        f"{summary.reused} moved or copied (descriptions kept), {summary.unchanged} unchanged; "
        f"{len(summary.skipped) + summary.skipped_before} skipped"
        + (f" ({summary.skipped_before} unchanged since skipped before)" if summary.skipped_before else "")
        + f"; {summary.removed} removed"
        + (f"; {summary.embedded} descriptions embedded with {summary.embedder}" if summary.embedded else "")
        + (f"; metadata read for {summary.metadata_read} unchanged photos (new or edited sidecars)" if summary.metadata_read else "")
        + (". `lucida status` lists skipped files." if summary.skipped or summary.skipped_before else ".")
    )
    if summary.faces is not None:
        click.echo(f"faces: {summary.faces.photos} photos read, {summary.faces.faces} faces found (`lucida people` lists them)")


class _Terminated(BaseException):
    """A second SIGTERM: stop at once, as Ctrl-C does. A BaseException, as KeyboardInterrupt is,
    so that no `except Exception` (one bad file, a damaged cache) swallows it."""


def _stop_on_sigterm(stop: threading.Event):
    """A SIGTERM handler (a service manager's stop): the watch ends after the pass under way,
    not inside it. Raised at an arbitrary point, the signal could land in a C extension's import
    (ONNX Runtime's, when the first change loads the search model) and come out as an ImportError."""

    def handler(signum, frame) -> None:
        if stop.is_set():
            raise _Terminated
        stop.set()

    return handler


@cli.command()
@click.argument("folders", nargs=-1, required=True, type=click.Path(path_type=str))
@click.option(
    "--poll",
    is_flag=True,
    envvar="LUCIDA_WATCH_POLL",
    help="Scan the folders periodically instead of waiting for events: for network shares, "
    "which do not report changes made elsewhere (also $LUCIDA_WATCH_POLL=1).",
)
@click.option("--poll-interval", default=60.0, show_default=True, type=click.FloatRange(min=0.1), help="Seconds between scans when polling.")
@click.option("-q", "--quiet", is_flag=True, help="No progress lines; errors only.")
@click.pass_obj
def watch(db: str | Path, folders: tuple[str, ...], poll: bool, poll_interval: float, quiet: bool) -> None:
    """Index FOLDERS, then keep the catalog current as photos are added, changed, moved or
    deleted, until Ctrl-C (at once) or SIGTERM (after the pass under way; a second one at once)."""
    os.environ.setdefault("OMP_WAIT_POLICY", INDEX_OMP_WAIT_POLICY)
    import signal
    import threading

    from lucida.library import Library
    from lucida.progress import progress_for
    from lucida.watch import watch_roots

    watch_roots(folders)  # a mistyped path fails before a catalog is made
    with Library.open(db, create=True) as library:
        stop = threading.Event()
        signal.signal(signal.SIGTERM, _stop_on_sigterm(stop))
        try:
            library.watch(list(folders), progress_for(quiet), poll=poll, poll_interval_s=poll_interval, stop=stop)
        except KeyboardInterrupt:
            click.echo("interrupted: every committed batch is kept", err=True)
            sys.exit(130)
        except _Terminated:
            pass
        click.echo("stopped: every committed batch is kept", err=True)


@cli.command()
@click.argument("query", required=False)
@click.option("-k", "k", default=20, show_default=True, type=click.IntRange(min=1), help="Number of results.")
@click.option("--json", "as_json", is_flag=True, help="Print one JSON object (JSON Lines with --queries).")
@click.option(
    "--all", "weak", is_flag=True,
    help="The whole ranking: the answers, then the weaker matches below the relevance cutoff.",
)
@click.option("--queries", type=click.File("r", encoding="utf-8"), help="Read one query per line ('-' for stdin).")
@click.option("--embedder", help="Search this embedding space (default: the one the index was built with).")
@click.option("--api-base", help="OpenAI-compatible server for an openai: embedder.")
@click.option("--from", "taken_from", metavar="DATE", help="Taken on or after DATE (YYYY, YYYY-MM or YYYY-MM-DD).")
@click.option("--to", "taken_to", metavar="DATE", help="Taken on or before DATE (--to 2021-06 includes all of June).")
@click.option("--camera", metavar="TEXT", help="Camera make and model contain these words, e.g. 'nikon z 6'.")
@click.option("--lens", metavar="TEXT", help="Lens name contains these words.")
@click.option("--focal", metavar="MIN-MAX", help="Focal length in mm: 24-70, 200- or -35.")
@click.option("--min-rating", type=click.IntRange(-1, 5), help="Rated at least N stars.")
@click.option("--label", metavar="COLOUR", help="Colour label, e.g. red.")
@click.option("--folder", type=click.Path(file_okay=False, path_type=str), help="Files under this folder.")
@click.option("--type", "types", metavar="TYPES", help="File types, comma-separated: raw, jpeg, heic, tiff, png, nef, ...")
@click.option("--has-gps", is_flag=True, help="Only photos with a GPS position.")
@click.option(
    "--person", "people", multiple=True, metavar="NAME",
    help="Only photos of this named person (repeat for several); a name in QUERY works too.",
)
@click.option(
    "--sort", type=click.Choice(["relevance", "date"]), default="relevance", show_default=True,
    help="Order of the k results; without a QUERY, date order and filters alone.",
)
@click.option("--export-pattern", envvar="LUCIDA_EXPORT_PATTERN", metavar="PATTERN", help=EXPORT_PATTERN_HELP)
@click.option(
    "--ranking", type=click.Choice(["hybrid", "vector"]), default="hybrid", show_default=True,
    help="hybrid: vector similarity fused with exact words (BM25) and classes; vector: similarity only.",
)
@click.option(
    "--conse", type=click.FloatRange(min=0), default=None,
    help="Weight of the photos' class-embedding vectors (ConSE) in their search vectors; 0 turns them off.",
)
@click.option(
    "--exact", is_flag=True,
    help="Score every photo instead of going through the nearest-neighbour index large catalogs use.",
)
@click.pass_obj
def search(
    db: str | Path, query: str | None, k: int, as_json: bool, weak: bool, queries, embedder: str | None,
    api_base: str | None, sort: str, export_pattern: str | None, ranking: str, conse: float | None, exact: bool,
    **filters,
) -> None:
    """Find photos matching QUERY, best first; the filters narrow the photos ranked.

    Lists the answers: photos whose relevance (0..1, the same scale for every query) reaches the
    cutoff; --all adds the weaker matches after them. With filters and no QUERY, lists the photos
    that pass, oldest first."""
    from lucida.filters import parse_filter
    from lucida.library import Library

    photo_filter = parse_filter(**filters)
    if query is not None and queries is not None:
        raise click.UsageError("give either a QUERY or --queries FILE")
    if query is None and queries is None and not photo_filter.active:
        raise click.UsageError("give a QUERY, --queries FILE, or filters such as --from 2021 --camera nikon")
    if queries is not None:
        texts: list[str | None] = [line.strip() for line in queries if line.strip()]
    else:
        texts = [query]
    with Library.open(db, exports=export_pattern) as library:
        searcher = library.searcher(embedder, api_base, ranking, conse, exact=True if exact else None)
        if searcher.size == 0 and not as_json:
            click.echo("the catalog has no indexed photos yet; run `lucida index PATH`", err=True)
        # One query at a time, so JSON Lines stream out as each is answered. Only JSON says why a
        # photo matched (the matched words' highlights: 2 ms a query at a million photos).
        for text in texts:
            page = library.search(text, photo_filter, k, sort=sort, searcher=searcher, weak=weak, explain=as_json)  # type: ignore[arg-type]
            results = page.results
            if as_json:
                payload = {
                    "query": text,
                    "people": list(page.people),  # named people every result shows
                    "searched_as": page.searched,  # a query in another language, in English words
                    "total": page.total,  # answers (without a QUERY: the photos that pass)
                    "weaker": page.weaker,  # matches below the cutoff, listed after the answers with --all
                    "results": [
                        {"path": r.path, "score": round(r.score, 6) if text is not None else None,
                         "caption": r.caption, "taken_at": r.taken_at, "files": list(r.files), "why": r.why,
                         "answer": r.answer}
                        for r in results
                    ],
                }
                click.echo(json.dumps(payload, ensure_ascii=False))
                continue
            if len(texts) > 1:
                click.echo(f"# {text}")
            if page.searched:
                click.echo(f"searched as: {page.searched}")
            if page.people:
                click.echo(f"photos of {' and '.join(page.people)}")
            if not results and searcher.size:
                click.echo(_nothing_found(library, searcher, text, photo_filter, page.weaker))
            for rank, r in enumerate(results, 1):
                if r.answer is False and (rank == 1 or results[rank - 2].answer):
                    click.echo("    — weaker matches —")
                # A ranked result has a relevance; a listing (filters or a name alone) a date.
                shown = f"{r.score:.2f}" if r.answer is not None else (r.taken_at or "no date")[:19]
                click.echo(f"{rank:>3}  {shown}  {r.path}")
                for other in (f for f in r.files if f != r.path):
                    click.echo(f"      + {other}")
                click.echo(f"      {_shorten(r.caption, 150)}")


@cli.command("copy-catalog")
@click.argument("url")
@click.pass_obj
def copy_catalog(db: str | Path, url: str) -> None:
    """Copy this SQLite catalog, whole, into a new PostgreSQL database at URL (postgresql://…),
    so several machines can share it: nothing is described again. The file stays as it is."""
    from lucida.catalog_location import shown_url
    from lucida.library import Library
    from lucida.progress import progress_for

    with Library.open(db) as library:
        copied = library.copy_to(url, progress_for(False))
    click.echo(
        f"copied {copied['images']} photos ({copied['files']} files, {copied['descriptions']} descriptions, "
        f"{copied['embeddings']} vectors, {copied['faces']} faces) into {shown_url(url)}; "
        f"use it with --db {shown_url(url)} or LUCIDA_DB"
    )


@cli.command()
@click.option("--json", "as_json", is_flag=True, help="Print one JSON object.")
@click.pass_obj
def status(db: str | Path, as_json: bool) -> None:
    """Photos indexed, pending and skipped (with reasons), models in use, catalog path and size."""
    from lucida.library import Library

    with Library.open(db) as library:
        st = library.status()
    size = st.catalog_bytes
    payload = {
        "catalog": st.catalog,
        "catalog_bytes": size,
        "indexed": st.indexed,
        "images": st.images,
        "pending": st.pending,
        "unembedded": st.unembedded,
        "skipped": [{"path": s.path, "reason": s.reason} for s in st.skipped],
        "caption_failures": [
            {"path": c.path, "captioner": c.captioner, "prompt": c.prompt, "error": c.error, "attempts": c.attempts}
            for c in st.caption_failures
        ],
        "models": st.models,
        "descriptions_by_describer": st.descriptions_by_describer,
        "vectors_by_embedder": st.vectors_by_embedder,
        "faces": {"photos_read": st.faces.scanned, "faces": st.faces.faces, "named_people": st.faces.people,
                  "unnamed_groups": st.faces.clusters},
        "face_failures": [{"path": p, "error": e} for p, e in st.face_failures],
    }
    if as_json:
        click.echo(json.dumps(payload, ensure_ascii=False))
        return
    click.echo(f"catalog    {payload['catalog']} ({size / 1e6:.1f} MB)")
    click.echo(f"indexed    {st.indexed} files ({st.images} distinct images)")
    click.echo(f"pending    {st.pending} files found but not yet indexed" + (
        "; run `lucida index` again to finish" if st.pending else ""))
    if st.unembedded:
        click.echo(f"unembedded {st.unembedded} descriptions lack a vector from the active embedder")
    click.echo(f"describer  {payload['models']['describer'] or '-'}")
    click.echo(f"embedder   {payload['models']['embedder'] or '-'}")
    for name, count in st.descriptions_by_describer.items():
        click.echo(f"  descriptions by {name}: {count}")
    for name, count in st.vectors_by_embedder.items():
        click.echo(f"  vectors by {name}: {count}")
    click.echo(f"skipped    {len(st.skipped)}")
    for skipped in st.skipped:
        click.echo(f"  {skipped.path}: {skipped.reason}")
    if payload["caption_failures"]:
        click.echo(f"caption failures {len(payload['caption_failures'])} (`lucida caption` tries them again)")
        for failure in payload["caption_failures"]:
            click.echo(f"  {failure['path']}: {failure['captioner']}: {failure['error']}")
    if st.faces.scanned or st.face_failures:
        click.echo(f"faces      {st.faces.faces} in {st.faces.scanned} photos read: {st.faces.people} named people, "
                   f"{st.faces.clusters} unnamed groups")  # fmt: skip
    for path, error in st.face_failures:
        click.echo(f"  faces not read from {path}: {error} (`lucida faces` tries again)")


@cli.command()
@click.option("--host", default="127.0.0.1", show_default=True, help="Address to listen on.")
@click.option("--port", default=8765, show_default=True, type=click.IntRange(0, 65535))
@click.option(
    "--token", envvar="LUCIDA_TOKEN",
    help="Require this token on every API request (also $LUCIDA_TOKEN); at least 16 characters off "
    "127.0.0.1. 'auto' makes a strong one and prints it.",
)
@click.option("--export-pattern", envvar="LUCIDA_EXPORT_PATTERN", metavar="PATTERN", help=EXPORT_PATTERN_HELP)
@click.pass_obj
def serve(db: str | Path, host: str, port: int, token: str | None, export_pattern: str | None) -> None:
    """Serve the photo search web app and its JSON API (docs at /docs)."""
    from lucida.web.app import MIN_TOKEN_LENGTH, create_app, is_loopback

    generated = token == "auto"
    if generated:
        import secrets

        token = secrets.token_urlsafe(32)
    if not token and not is_loopback(host):
        raise LucidaError(
            f"refusing to serve on {host} without --token: anyone who can reach it could see your photos; "
            "add --token auto (or a secret of 16 characters or more), or serve on 127.0.0.1"
        )
    if token and len(token) < MIN_TOKEN_LENGTH and not is_loopback(host):
        # Guessable: a network may try tokens as fast as the server answers.
        raise LucidaError(
            f"refusing to serve on {host} with a {len(token)}-character token: use at least "
            f"{MIN_TOKEN_LENGTH} characters, or --token auto to have one made"
        )
    import uvicorn

    from lucida.library import Library

    # Loaded once, here: every request and every index run started from the page shares them.
    with Library.open(db) as library:
        describer, embedder = library.serve_models()
        shown_catalog = library.catalog.location
    app = create_app(db, describer, embedder, token=token, exports=export_pattern)
    shown = f"[{host}]" if ":" in host else host
    # A token made here is shown once, so that it can be used; one given is not echoed back.
    query = f"?token={token}" if generated else "?token=…" if token else ""
    click.echo(f"lucida: serving {shown_catalog} at http://{shown}:{port}/{query}", err=True)
    uvicorn.run(app, host=host, port=port, log_level="info")


@cli.command("eval")
@click.option("--images", required=True, type=click.Path(path_type=Path), help="Folder holding the data set's images.")
@click.option("--coco", type=click.Path(path_type=Path), help="COCO captions file (captions_val2014.json).")
@click.option("--karpathy", type=click.Path(path_type=Path), help="Karpathy split file (dataset_coco.json, dataset_flickr30k.json).")
@click.option("--split", help="Split of the --karpathy file, e.g. test.")
@click.option("--jsonl", type=click.Path(path_type=Path), help="JSON Lines captions file, as in data/eval/lucida-samples.")
@click.option("--captioner", "captioners", multiple=True, help="Describer name; repeatable (default: the offline default describer).")
@click.option("--prompt", "prompts", multiple=True, help="Prompt for the captioners; repeatable (default: each one's own).")
@click.option("--embedder", "embedders", multiple=True, help="Embedder name or st:<folder>; repeatable (default: the offline default embedder).")
@click.option("--limit", type=click.IntRange(min=1), help="Evaluate only the first N items.")
@click.option("--api-base", help="OpenAI-compatible server for openai: models (default: the OpenAI API).")
@click.option("--out", required=True, type=click.Path(file_okay=False, path_type=Path), help="Folder for the report and the cache.")
@click.option(
    "--cache", metavar="LOCATION",
    help="Where captions and vectors are kept between runs: a SQLite file (default: OUT/cache.db) or a "
    "postgresql:// database a team shares (never the library's own catalog).",
)
@click.option("-q", "--quiet", is_flag=True, help="No progress; print only where the report is.")
def eval_(images: Path, coco, karpathy, split, jsonl, captioners, prompts, embedders, limit, api_base, out: Path, cache, quiet: bool) -> None:
    """Evaluate captioners x prompts x embedders on a captioned data set: caption quality,
    text-to-image retrieval and cost. Captions and vectors are cached in OUT/cache.db."""
    sources = {"coco": coco, "karpathy": karpathy, "jsonl": jsonl}
    given = [(kind, path) for kind, path in sources.items() if path is not None]
    if len(given) != 1:
        raise click.UsageError("give exactly one of --coco FILE, --karpathy FILE --split NAME, --jsonl FILE")
    kind, path = given[0]
    if (split is not None) != (kind == "karpathy"):
        raise click.UsageError("--split goes with --karpathy, and --karpathy needs it")
    from lucida.evaluate.datasets import load_dataset
    from lucida.evaluate.report import write_report
    from lucida.catalog_location import catalog_location
    from lucida.evaluate.runner import evaluate
    from lucida.progress import progress_for

    items = load_dataset(kind, path, split=split)[:limit]
    dataset = f"{kind} {path}" + (f" (split {split})" if split else "") + (f", first {limit} items" if limit else "")
    evaluation = evaluate(
        items, images, out, list(captioners), list(prompts) or None, list(embedders), dataset, progress_for(quiet),
        api_base=api_base, cache=catalog_location(cache) if cache else None,
    )
    write_report(evaluation, out)
    click.echo(f"{len(evaluation.rows)} combinations on {evaluation.images} images: {out / 'report.md'}")


@cli.command("export-xmp")
@click.argument("paths", nargs=-1, type=click.Path(path_type=str))
@click.option(
    "--sidecar-style", type=click.Choice(["basename.xmp", "filename.ext.xmp"]), default="basename.xmp", show_default=True,
    help="IMG_0001.xmp (Lightroom, DxO PhotoLab) or IMG_0001.NEF.xmp (darktable, digiKam).",
)
@click.option("--parent", default="lucida", show_default=True, help="Parent of lucida's hierarchical keywords (lr:hierarchicalSubject); 'a|b' nests deeper.")
@click.option("--overwrite-description", is_flag=True, help="Replace a description someone else wrote (--undo puts it back).")
@click.option("--embed", is_flag=True, help="Write into JPEG, TIFF and DNG files themselves instead of sidecars (changes the photos).")
@click.option("--dry-run", is_flag=True, help="Show what would change; write nothing.")
@click.option("--undo", is_flag=True, help="Remove what lucida's exports wrote, and nothing else.")
@click.pass_obj
def export_xmp(db: str | Path, paths: tuple[str, ...], sidecar_style: str, parent: str, overwrite_description: bool,
               embed: bool, dry_run: bool, undo: bool) -> None:
    """Write lucida's captions, keywords and people's names as XMP (dc:description, dc:subject,
    lr:hierarchicalSubject, MWG face regions, Iptc4xmpExt:PersonInImage) for the indexed photos
    under PATHS (default: all), merged into existing sidecars."""
    from lucida.indexer import existing_roots
    from lucida.library import Library
    from lucida.xmp_export import ExportOptions

    roots = existing_roots(paths) if paths else None
    with Library.open(db) as library:
        if undo:
            changes = library.undo_xmp(roots, dry_run)
        else:
            changes = library.export_xmp(roots, ExportOptions(parent, sidecar_style, overwrite_description, embed, dry_run))
    would = "would change" if dry_run else "changed"
    for change in changes:
        if change.changes_anything or change.kept_description is not None or change.skipped:
            click.echo(f"{change.target}: {change.summary()}")
    done = sum(c.changes_anything for c in changes)
    click.echo(f"{done} of {len(changes)} files {would}" + (" (dry run: nothing written)" if dry_run else "") + ".")


def _nothing_found(
    library: Library, searcher: Searcher, text: str | None, photo_filter: PhotoFilter, weaker: int
) -> str:
    """The line a search with no answers prints: the closest photos, when any were ranked."""
    if text is None or not weaker:
        return "no photos pass the filters"
    closest = library.search(text, photo_filter, 3, searcher=searcher, weak=True).results
    names = ", ".join(Path(r.path).name for r in closest)
    return f'no photos match "{text}" well; closest: {names} (--all shows the whole ranking)'


def _shorten(text: str, width: int) -> str:
    return text if len(text) <= width else text[: width - 1].rstrip() + "…"


from lucida.cli_models import caption, models  # noqa: E402 - they attach to `cli` above
from lucida.cli_people import faces, people  # noqa: E402

cli.add_command(models)
cli.add_command(caption)
cli.add_command(faces)
cli.add_command(people)


def main() -> None:
    cli(prog_name="lucida")



"""The `lucida` command line: a thin shell over the library."""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path

import click
from platformdirs import user_data_path

from lucida.catalog import Catalog
from lucida.catalog.store import ACTIVE_DESCRIBER, ACTIVE_EMBEDDER
from lucida.errors import LucidaError


# While the main thread runs the models, decode threads need the CPU too; torch's OpenMP threads
# otherwise spin between operations and take it from them (bench/index_throughput.py: about 20%
# more photos/s on 2 cores). Set for `index` only; OpenMP reads it when torch first loads.
INDEX_OMP_WAIT_POLICY = "PASSIVE"


def default_catalog_path() -> Path:
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
    type=click.Path(dir_okay=False, path_type=Path),
    envvar="LUCIDA_DB",
    default=default_catalog_path,
    show_default="a catalog in the user data folder",
    help="Catalog file (also $LUCIDA_DB).",
)
@click.version_option(package_name="lucida")
@click.pass_context
def cli(ctx: click.Context, db: Path) -> None:
    """Semantic search for photo libraries."""
    ctx.obj = db


@cli.command()
@click.argument("paths", nargs=-1, required=True, type=click.Path(path_type=str))
@click.option("--describer", help="Describer name (default: the catalog's, else the offline default).")
@click.option("--embedder", help="Embedder name or st:<folder> (default: the catalog's, else the offline default).")
@click.option("--batch-size", default=32, show_default=True, type=click.IntRange(1, 1024))
@click.option("-q", "--quiet", is_flag=True, help="No progress and no summary; errors only.")
@click.pass_obj
def index(db: Path, paths: tuple[str, ...], describer: str | None, embedder: str | None, batch_size: int, quiet: bool) -> None:
    """Index the photos under PATHS (folders or files): decode, describe, embed, store."""
    os.environ.setdefault("OMP_WAIT_POLICY", INDEX_OMP_WAIT_POLICY)
    from lucida.indexer import existing_roots, index_paths
    from lucida.models.registry import DEFAULT_DESCRIBER, DEFAULT_EMBEDDER, LazyDescriber, LazyEmbedder
    from lucida.progress import progress_for

    existing_roots(paths)  # a mistyped path fails before a catalog is made or a model loads
    with Catalog.open(db) as catalog:
        # Models load only when there is work for them: a rerun over an unchanged library loads
        # none. A run that switches models (or fills a new catalog) loads them first, so a model
        # that is not available fails before the catalog records it as the active one.
        describer_model = LazyDescriber(describer or catalog.get_setting(ACTIVE_DESCRIBER) or DEFAULT_DESCRIBER)
        embedder_model = LazyEmbedder(embedder or catalog.get_setting(ACTIVE_EMBEDDER) or DEFAULT_EMBEDDER)
        if describer_model.name != catalog.get_setting(ACTIVE_DESCRIBER):
            describer_model.model()
        if embedder_model.name != catalog.get_setting(ACTIVE_EMBEDDER):
            embedder_model.model()
        try:
            summary = index_paths(
                catalog, list(paths), describer_model, embedder_model, progress_for(quiet), batch_size=batch_size
            )
        except KeyboardInterrupt:
            click.echo("interrupted: every committed batch is kept; run the same command to resume", err=True)
            sys.exit(130)
    if quiet:
        return
    indexed = summary.unchanged + summary.described + summary.reused
    click.echo(
        f"{indexed} photos indexed in {summary.seconds:.1f} s: {summary.described} described, "
        f"{summary.reused} moved or copied (descriptions kept), {summary.unchanged} unchanged; "
        f"{len(summary.skipped) + summary.skipped_before} skipped"
        + (f" ({summary.skipped_before} unchanged since skipped before)" if summary.skipped_before else "")
        + f"; {summary.removed} removed"
        + (f"; {summary.embedded} descriptions embedded with {embedder_model.name}" if summary.embedded else "")
        + (". `lucida status` lists skipped files." if summary.skipped or summary.skipped_before else ".")
    )


@cli.command()
@click.argument("query", required=False)
@click.option("-k", "k", default=20, show_default=True, type=click.IntRange(min=1), help="Number of results.")
@click.option("--json", "as_json", is_flag=True, help="Print one JSON object (JSON Lines with --queries).")
@click.option("--queries", type=click.File("r", encoding="utf-8"), help="Read one query per line ('-' for stdin).")
@click.option(
    "--ranking", type=click.Choice(["hybrid", "vector"]), default="hybrid", show_default=True,
    help="hybrid: vector similarity fused with exact words (BM25); vector: similarity only.",
)
@click.option(
    "--conse", type=click.FloatRange(min=0), default=None,
    help="Weight of the photos' class-embedding vectors (ConSE) in their search vectors; 0 turns them off.",
)
@click.pass_obj
def search(db: Path, query: str | None, k: int, as_json: bool, queries, ranking: str, conse: float | None) -> None:
    """Find photos matching QUERY, best first."""
    from lucida.search import CONSE_WEIGHT, Searcher

    if (query is None) == (queries is None):
        raise click.UsageError("give either a QUERY or --queries FILE")
    texts = [query] if query is not None else [line.strip() for line in queries if line.strip()]
    with Catalog.open(db, create=False) as catalog:
        searcher = Searcher(catalog, ranking=ranking, conse=CONSE_WEIGHT if conse is None else conse)
        if searcher.size == 0 and not as_json:
            click.echo("the catalog has no indexed photos yet; run `lucida index PATH`", err=True)
        # One query at a time, so JSON Lines stream out as each is answered.
        for text in texts:
            results = searcher.search(text, k)
            if as_json:
                payload = {
                    "query": text,
                    "results": [
                        {"path": r.path, "score": round(r.score, 6), "caption": r.caption, "why": r.why} for r in results
                    ],
                }
                click.echo(json.dumps(payload, ensure_ascii=False))
                continue
            if len(texts) > 1:
                click.echo(f"# {text}")
            for rank, r in enumerate(results, 1):
                click.echo(f"{rank:>3}  {r.score:.3f}  {r.path}")
                click.echo(f"      {_shorten(r.caption, 150)}")


@cli.command()
@click.option("--json", "as_json", is_flag=True, help="Print one JSON object.")
@click.pass_obj
def status(db: Path, as_json: bool) -> None:
    """Photos indexed, pending and skipped (with reasons), models in use, catalog path and size."""
    with Catalog.open(db, create=False) as catalog:
        st = catalog.status()
        size = catalog.file_size_bytes()
        payload = {
            "catalog": str(catalog.path),
            "catalog_bytes": size,
            "indexed": st.files,
            "images": st.images,
            "pending": st.pending,
            "unembedded": st.unembedded,
            "skipped": [{"path": s.path, "reason": s.reason} for s in st.skipped],
            "models": {"describer": st.settings.get(ACTIVE_DESCRIBER), "embedder": st.settings.get(ACTIVE_EMBEDDER)},
            "descriptions_by_describer": st.describers,
            "vectors_by_embedder": st.embedders,
        }
    if as_json:
        click.echo(json.dumps(payload, ensure_ascii=False))
        return
    click.echo(f"catalog    {payload['catalog']} ({size / 1e6:.1f} MB)")
    click.echo(f"indexed    {st.files} files ({st.images} distinct images)")
    click.echo(f"pending    {st.pending} files found but not yet indexed" + (
        "; run `lucida index` again to finish" if st.pending else ""))
    if st.unembedded:
        click.echo(f"unembedded {st.unembedded} descriptions lack a vector from the active embedder")
    click.echo(f"describer  {payload['models']['describer'] or '-'}")
    click.echo(f"embedder   {payload['models']['embedder'] or '-'}")
    for name, count in st.describers.items():
        click.echo(f"  descriptions by {name}: {count}")
    for name, count in st.embedders.items():
        click.echo(f"  vectors by {name}: {count}")
    click.echo(f"skipped    {len(st.skipped)}")
    for skipped in st.skipped:
        click.echo(f"  {skipped.path}: {skipped.reason}")


@cli.command()
@click.option("--host", default="127.0.0.1", show_default=True, help="Address to listen on.")
@click.option("--port", default=8765, show_default=True, type=click.IntRange(0, 65535))
@click.option("--token", envvar="LUCIDA_TOKEN", help="Require this token on every API request (also $LUCIDA_TOKEN).")
@click.pass_obj
def serve(db: Path, host: str, port: int, token: str | None) -> None:
    """Serve the photo search web app and its JSON API (docs at /docs)."""
    from lucida.web.app import create_app, is_loopback

    if not token and not is_loopback(host):
        raise LucidaError(
            f"refusing to serve on {host} without --token: anyone who can reach it could see your photos; "
            "add --token SECRET, or serve on 127.0.0.1"
        )
    import uvicorn

    from lucida.models.registry import DEFAULT_DESCRIBER, DEFAULT_EMBEDDER, load_describer, load_embedder

    with Catalog.open(db, create=False) as catalog:
        describer_name = catalog.get_setting(ACTIVE_DESCRIBER) or DEFAULT_DESCRIBER
        embedder_name = catalog.get_setting(ACTIVE_EMBEDDER) or DEFAULT_EMBEDDER
    # Loaded once, here: every request and every index run started from the page shares them.
    app = create_app(db, load_describer(describer_name), load_embedder(embedder_name), token=token)
    shown = f"[{host}]" if ":" in host else host
    click.echo(f"lucida: serving {db} at http://{shown}:{port}/" + ("?token=…" if token else ""), err=True)
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
@click.option("--out", required=True, type=click.Path(file_okay=False, path_type=Path), help="Folder for the report and the cache.")
@click.option("-q", "--quiet", is_flag=True, help="No progress; print only where the report is.")
def eval_(images: Path, coco, karpathy, split, jsonl, captioners, prompts, embedders, limit, out: Path, quiet: bool) -> None:
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
    from lucida.evaluate.runner import evaluate
    from lucida.progress import progress_for

    items = load_dataset(kind, path, split=split)[:limit]
    dataset = f"{kind} {path}" + (f" (split {split})" if split else "") + (f", first {limit} items" if limit else "")
    evaluation = evaluate(
        items, images, out, list(captioners), list(prompts) or None, list(embedders), dataset, progress_for(quiet)
    )
    write_report(evaluation, out)
    click.echo(f"{len(evaluation.rows)} combinations on {evaluation.images} images: {out / 'report.md'}")


def _shorten(text: str, width: int) -> str:
    return text if len(text) <= width else text[: width - 1].rstrip() + "…"


def main() -> None:
    cli(prog_name="lucida")



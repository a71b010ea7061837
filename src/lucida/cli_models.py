"""`lucida models` (what models exist, which are here, getting them) and `lucida caption` (the
second indexing tier). Attached to the `lucida` group in cli.py."""

from __future__ import annotations

import json
from pathlib import Path

import click

from lucida.cli_runs import resumable_run


@click.group()
def models() -> None:
    """The models lucida knows: list them, show one, download one into the Hugging Face cache."""


@models.command("list")
@click.option("--json", "as_json", is_flag=True, help="Print one JSON object per model (JSON Lines).")
def list_models(as_json: bool) -> None:
    """Every registry model: name, kind, source, size, licence, and whether it is here."""
    from lucida.config import config_path
    from lucida.models.registry import availability, entries

    rows = []
    for entry in entries():
        here = availability(entry)
        rows.append(
            {
                "name": entry.name, "kind": entry.kind, "source": entry.package or entry.source,
                "size": entry.size, "licence": entry.licence, "local": here.local, "where": here.where,
            }
        )
    if as_json:
        for row in rows:
            click.echo(json.dumps(row, ensure_ascii=False))
        return
    headers = {"name": "NAME", "kind": "KIND", "source": "SOURCE", "size": "SIZE", "licence": "LICENCE"}
    widths = {key: max(len(headers[key]), *(len(str(r[key])) for r in rows)) for key in headers}
    line = lambda r: "  ".join(str(r[k]).ljust(widths[k]) for k in headers)  # noqa: E731
    click.echo(line(headers) + "  LOCAL")
    for row in rows:
        click.echo(line(row) + "  " + ("yes" if row["local"] else "no") + f" ({row['where']})")
    click.echo(
        "\nExplicit forms: florence2:, blip:, smolvlm:, llava-onevision:<hub id or folder>; "
        "st:<sentence-transformers hub id or folder>; openai:<model> (with --api-base for other servers)."
    )
    click.echo(f"Config file: {config_path()}" + ("" if config_path().exists() else " (none yet)"))


@models.command()
@click.argument("name")
def info(name: str) -> None:
    """Everything the registry knows about one model (a name or an explicit spec)."""
    from lucida.models.registry import EMBEDDER, IMAGE_KINDS, MODELS, availability, resolve

    entry = MODELS.get(name) or resolve(name, (*IMAGE_KINDS, EMBEDDER))
    here = availability(entry)
    for label, value in [
        ("name", entry.name),
        ("kind", entry.kind),
        ("family", entry.family),
        ("source", entry.source),
        ("revision", entry.revision or "-"),
        ("package", entry.package or "-"),
        ("size", entry.size or "-"),
        ("licence", entry.licence or "-"),
        ("local", ("yes, " if here.local else "no, ") + here.where),
        ("about", entry.summary or "-"),
    ]:
        click.echo(f"{label:<9} {value}")


@models.command()
@click.argument("name")
def pull(name: str) -> None:
    """Download a model's weights into the Hugging Face cache at its pinned revision (needs a
    network; copy the cache, or point HF_HOME at it, to use them on an offline machine)."""
    from lucida.models.registry import EMBEDDER, IMAGE_KINDS, pull as pull_entry, resolve

    entry = resolve(name, (*IMAGE_KINDS, EMBEDDER))
    folder = pull_entry(entry)
    click.echo(f"{entry.name}: {entry.source}" + (f" at {entry.revision}" if entry.revision else "") + f" in {folder}")


@click.command()
@click.option("--captioner", help="Captioner: a registry name or explicit spec (default: the config file's [caption] captioner).")
@click.option("--prompt", help="Prompt library name (default: the config file's, else the captioner's own).")
@click.option("--api-base", help="OpenAI-compatible server for openai: captioners (default: the OpenAI API).")
@click.option(
    "--batch-size", type=click.IntRange(1, 256),
    help="Photos per batch (default: 4 for local models, 16 for an API, whose requests run 4 at a time).",
)
@click.option("--limit", type=click.IntRange(min=1), help="Caption at most N photos in this run.")
@click.option(
    "--ray", "ray_address", is_flag=False, flag_value="local", metavar="[ADDRESS]",
    help="Caption on a Ray cluster: its address ('auto', 'ray://head:10001'), or none for one on this "
    "machine. Every worker must reach the photos at the paths the catalog has.",
)
@click.option("--actors", type=click.IntRange(min=1), help="With --ray: captioners to run at once (default: one per GPU, else one per two CPUs).")
@click.option("-q", "--quiet", is_flag=True, help="No progress and no summary; errors only.")
@click.pass_obj
def caption(
    db: str | Path, captioner: str | None, prompt: str | None, api_base: str | None, batch_size: int | None, limit,
    ray_address: str | None, actors: int | None, quiet: bool,
) -> None:
    """Fill in detailed captions for indexed photos with a vision-language captioner; search
    prefers them. Resumable: run it again to continue or to retry failed photos."""
    from lucida.config import config_path
    from lucida.library import CAPTION, CAPTIONER, Library
    from lucida.progress import progress_for

    with Library.open(db) as library:
        if library.choose(CAPTIONER, CAPTION, spec=captioner) is None:
            raise click.UsageError(f"give --captioner NAME (see `lucida models list`), or set [caption] captioner in {config_path()}")
        if actors and not ray_address:
            raise click.UsageError("--actors goes with --ray")
        with resumable_run():
            if ray_address:
                name, used_prompt, summary = library.caption_on_ray(
                    ray_address, captioner, prompt, api_base, progress_for(quiet), batch_size, limit, actors
                )
            else:
                model, summary = library.caption(captioner, prompt, api_base, progress_for(quiet), batch_size, limit)
                name, used_prompt = model.name, model.prompt
    if quiet:
        return
    click.echo(
        f"{summary.captioned} photos captioned with {name} (prompt {used_prompt or '-'}) in {summary.seconds:.1f} s"
        + (f"; {summary.failed} failed, tried again next run (`lucida status` says why)" if summary.failed else "")
        + (f"; {summary.remaining} left for a later run" if summary.remaining else "")
        + "."
    )

"""Writes an evaluation's four files: results.json, report.md, pareto.png and captions.jsonl."""

from __future__ import annotations

import json
from pathlib import Path

from lucida.evaluate.metrics import pareto_front
from lucida.evaluate.runner import EvalRow, Evaluation

METRICS = ["R@1", "R@5", "R@10", "MRR@10", "nDCG@10", "BLEU-1", "BLEU-2", "BLEU-3", "BLEU-4", "ROUGE-L", "CIDEr"]


def write_report(evaluation: Evaluation, out_dir: str | Path) -> list[Path]:
    """Write the four files into `out_dir`; returns their paths."""
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    paths = [out / "results.json", out / "report.md", out / "pareto.png", out / "captions.jsonl"]
    results, report, plot, captions = paths
    results.write_text(json.dumps([_row_json(r) for r in evaluation.rows], indent=2) + "\n", encoding="utf-8")
    report.write_text(report_markdown(evaluation), encoding="utf-8")
    _plot(evaluation.rows, plot)
    with captions.open("w", encoding="utf-8") as handle:
        for line in evaluation.captions:
            record = {"image": line.image, "captioner": line.captioner, "prompt": line.prompt, "caption": line.caption}
            handle.write(json.dumps(record, ensure_ascii=False) + "\n")
    return paths


def combination_label(row: EvalRow) -> str:
    return f"{row.captioner}" + (f" [{row.prompt}]" if row.prompt else "") + f" + {row.embedder}"


def on_pareto_front(rows: list[EvalRow]) -> list[bool]:
    """Rows no other row beats on both R@10 (higher) and seconds per photo (lower)."""
    return pareto_front([(r.metrics["R@10"], _seconds(r)) for r in rows])


def report_markdown(evaluation: Evaluation) -> str:
    rows = evaluation.rows
    front = on_pareto_front(rows)
    order = sorted(range(len(rows)), key=lambda i: -rows[i].metrics["R@10"])
    header = ["", "captioner", "prompt", "embedder", *METRICS, "s/photo", "ms/query", "peak RSS MB", "model MB"]
    lines = [
        "# lucida evaluation",
        "",
        f"Data set: {evaluation.dataset or '-'}: {evaluation.images} images, {evaluation.queries} text queries "
        "(every reference caption, plus any extra queries).  ",
        f"Machine: {evaluation.machine}.",
        "",
        "Best first by R@10; * marks the Pareto front (no other row has both a higher R@10 and "
        "fewer seconds per photo). Retrieval: text-to-image, each query ranks the evaluated images "
        "by cosine similarity between its vector and the description's (made from its search text). "
        "Caption scores compare each caption as lucida shows it (class names, no definitions; "
        "captions.jsonl) with the image's reference captions. s/photo is decoding plus the captioner "
        "(measured when captioned, kept when cached); ms/query embeds the queries (in batches) "
        "and ranks; peak RSS is the process's so far; model MB is the captioner's plus the "
        "embedder's files on disk.",
        "",
        "| " + " | ".join(header) + " |",
        "|" + "---|" * len(header),
    ]
    for i in order:
        row = rows[i]
        cost = row.cost
        cells = [
            "*" if front[i] else "",
            f"`{row.captioner}`",
            f"`{row.prompt}`" if row.prompt else "-",
            f"`{row.embedder}`",
            *(f"{row.metrics[m]:.3f}" for m in METRICS),
            _number(cost.get("seconds_per_photo"), "{:.4f}"),
            _number(cost.get("ms_per_query"), "{:.2f}"),
            _number(cost.get("peak_rss_mb"), "{:.0f}"),
            _model_mb(row),
        ]
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines) + "\n"


def _plot(rows: list[EvalRow], path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    from matplotlib import pyplot

    front = on_pareto_front(rows)
    figure, axes = pyplot.subplots(figsize=(8, 5), dpi=120)
    try:
        for row, best in zip(rows, front):
            x, y = _seconds(row), row.metrics["R@10"]
            axes.scatter([x], [y], color="tab:red" if best else "tab:blue", zorder=3)
            axes.annotate(combination_label(row), (x, y), textcoords="offset points", xytext=(5, 5), fontsize=7)
        frontier = sorted((_seconds(r), r.metrics["R@10"]) for r, best in zip(rows, front) if best)
        if len(frontier) > 1:
            axes.plot(*zip(*frontier), color="tab:red", linewidth=1, zorder=2)
        axes.set_xlabel("seconds per photo to caption")
        axes.set_ylabel("R@10 (text to image)")
        axes.set_title("lucida eval: retrieval against captioning cost (red: Pareto front)")
        axes.grid(True, alpha=0.3)
        figure.tight_layout()
        figure.savefig(path, format="png")
    finally:
        pyplot.close(figure)


def _row_json(row: EvalRow) -> dict:
    return {
        "captioner": row.captioner,
        "prompt": row.prompt,
        "embedder": row.embedder,
        "metrics": row.metrics,
        "cost": row.cost,
    }


def _seconds(row: EvalRow) -> float:
    # A combination whose captions were all cached before timing was stored has no figure.
    seconds = row.cost.get("seconds_per_photo")
    return float(seconds) if seconds is not None else float("nan")


def _number(value, pattern: str) -> str:
    return "-" if value is None else pattern.format(value)


def _model_mb(row: EvalRow) -> str:
    sizes = [row.cost.get("captioner_bytes"), row.cost.get("embedder_bytes")]
    if any(s is None for s in sizes):
        known = sum(s for s in sizes if s is not None)
        return f">= {known / 1e6:.0f}" if known else "-"
    return f"{sum(sizes) / 1e6:.0f}"

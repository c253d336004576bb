"""The report stage: a task's figures and a browsable page of test examples and their proponents."""

from __future__ import annotations

import html
import os
from collections.abc import Mapping, Sequence
from pathlib import Path

import polars as pl

from lingtrace import settings
from lingtrace.errors import ConfigError
from lingtrace.io.atomic import write_text
from lingtrace.layout import FIGURES
from lingtrace.report import figures


def figure_stems(outs: Sequence[str | os.PathLike]) -> dict[str, Path]:
    """{figure name: output stem} from the figure files to write (PNG and SVG of each figure in FIGURES)."""
    stems = {Path(out).stem: Path(out).with_suffix("") for out in outs}
    missing = [name for name in FIGURES if name not in stems]
    if missing or set(stems) - set(FIGURES):
        raise ConfigError(f"figures: give a PNG and an SVG path for each of {list(FIGURES)} (missing {missing})")
    return stems


def task_figures(tables: Mapping[str, str], outs: Sequence[str], params: dict) -> None:
    """Every figure of a task (the joint run's analyses), each to its PNG and SVG in ``outs``.

    ``tables``: {table name: Parquet path} for influence_matrix, progression, language_shares, ablation.
    """
    from lingtrace.study import task_of

    task = settings.load("task", task_of(params))
    report, analysis = settings.load("report", params.get("report")), settings.load("analysis", params.get("analysis"))
    stems = figure_stems(outs)
    joint = pl.col("run") == "joint"
    train_langs = list(task.train_langs)
    variant, k = analysis.variant, analysis.headline_k
    figures.influence_heatmaps(
        pl.read_parquet(tables["influence_matrix"]).filter(joint), stems["influence_heatmaps"],
        variant=variant, train_langs=train_langs, cmap=report.cmap, dpi=report.dpi,
        title=f"{task.name}: mean TracIn influence per training example ({variant}), joint run",
    )  # fmt: skip
    progression = pl.read_parquet(tables["progression"]).filter(joint & (pl.col("variant") == variant))
    figures.progression_plot(
        progression, stems["crosslingual_progression"], k=k, train_langs=train_langs, dpi=report.dpi,
        title=f"{task.name}: share of top-{k} proponents from other languages, per checkpoint",
    )  # fmt: skip
    figures.enrichment_bars(
        pl.read_parquet(tables["language_shares"]).filter(joint), stems["enrichment"], variant=variant,
        k=k, train_langs=train_langs, dpi=report.dpi,
        title=f"{task.name}: enrichment of top-{k} proponents over each language's share of the data",
    )  # fmt: skip
    ablation = pl.read_parquet(tables["ablation"])  # the loss table (validation's ablation_loss)
    if ablation.height:
        controlled = ablation["control_loss"].is_finite().all()
        value = "specific_loss" if controlled else "delta_loss"
        what = "minus the change when as much random data is removed" if controlled else ""
        figures.ablation_heatmap(
            ablation, stems["ablation"], value=value, cmap="RdBu_r", dpi=report.dpi,
            title=f"{task.name}: change in test loss when a fine-tuning language is removed {what}".strip(),
        )  # fmt: skip
    else:
        figures.empty_figure(stems["ablation"], f"{task.name}: no ablation runs", dpi=report.dpi)


def _example_rows(topk: pl.DataFrame, texts: dict, uid: str, direction: str, variant: str, show_k: int) -> str:
    rows = topk.filter(
        (pl.col("test_uid") == uid) & (pl.col("checkpoint") == "all") & (pl.col("variant") == variant)
        & (pl.col("direction") == direction) & (pl.col("rank") <= show_k)
    ).sort("rank")  # fmt: skip
    return "".join(
        f"<tr><td>{r['rank']}</td><td>{html.escape(r['train_lang'])}</td><td>{r['score']:.3g}</td>"
        f"<td>{html.escape(texts.get(r['train_uid'], ('?', ''))[0])}</td>"
        f"<td>{texts.get(r['train_uid'], ('', '?'))[1]}</td></tr>"
        for r in rows.iter_rows(named=True)
    )


def _text(row: dict) -> str:
    return row["text_a"] if row["text_b"] is None else f"{row['text_a']} ║ {row['text_b']}"


def examples_page(topk_path, train_path, test_path, predictions_path, params: dict) -> str:
    """HTML: per test language a few test examples, each with its top proponents and opponents."""
    from lingtrace.study import task_of

    task_name = task_of(params)["name"]
    report, analysis = settings.load("report", params.get("report")), settings.load("analysis", params.get("analysis"))
    topk = pl.read_parquet(topk_path)
    train = pl.read_parquet(train_path)
    test = pl.read_parquet(test_path)
    texts = {r["uid"]: (_text(r), r["label"]) for r in train.iter_rows(named=True)}
    preds = pl.read_parquet(predictions_path).filter(pl.col("run") == "joint").sort("seed")
    pred_of = {r["uid"]: r["pred"] for r in preds.unique("uid", keep="first").iter_rows(named=True)}
    scored = set(topk["test_uid"].unique().to_list())
    variant, show_k = analysis.variant, report.show_k
    parts = [
        "<!doctype html><html><head><meta charset='utf-8'>",
        f"<title>lingtrace: {html.escape(task_name)} examples</title>",
        "<style>body{font-family:sans-serif;margin:2em;max-width:70em} table{border-collapse:collapse;margin:.3em 0 1em}"
        " td,th{border:1px solid #ccc;padding:2px 6px;font-size:90%} h3{margin-bottom:.2em} .t{color:#555}</style>",
        f"</head><body><h1>{html.escape(task_name)}: test examples and their most influential training examples</h1>",
        f"<p>TracIn ({html.escape(variant)}), summed over checkpoints, joint run. Proponents lower the test loss;"
        " opponents raise it. Texts of pairs are shown as <i>first ║ second</i>.</p>",
    ]
    for lang in sorted(test["lang"].unique().to_list()):
        uids = [u for u in test.filter(pl.col("lang") == lang).sort("uid")["uid"].to_list() if u in scored]
        parts.append(f"<h2 id='{html.escape(lang)}'>{html.escape(lang)}</h2>")
        for uid in uids[: report.examples_per_lang]:
            row = test.filter(pl.col("uid") == uid).row(0, named=True)
            parts.append(
                f"<h3>{html.escape(uid)}</h3><p>{html.escape(_text(row))}<br><span class='t'>label {row['label']},"
                f" predicted {pred_of.get(uid, '?')}</span></p>"
            )
            for direction in ("proponent", "opponent"):
                parts.append(
                    f"<b>{direction}s</b><table><tr><th>rank</th><th>language</th><th>score</th><th>text</th>"
                    f"<th>label</th></tr>{_example_rows(topk, texts, uid, direction, variant, show_k)}</table>"
                )
    parts.append("</body></html>")
    return "\n".join(parts)


def write_examples_page(topk_path, train_path, test_path, predictions_path, params: dict, out: str | os.PathLike):
    write_text(examples_page(topk_path, train_path, test_path, predictions_path, params), out)

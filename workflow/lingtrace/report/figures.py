"""Figures of the analyses: influence heatmaps, cross-lingual share over fine-tuning, enrichment bars, ablation.

Each function takes tidy DataFrames (the outputs of ``lingtrace.analysis``) and an output path stem,
writes ``{stem}.png`` and ``{stem}.svg``, and returns the matplotlib Figure. Figures are built on the
Agg canvas directly, without pyplot, so nothing global (backend, current figure) is touched.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path

import matplotlib
import numpy as np
import polars as pl
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.colors import Normalize
from matplotlib.figure import Figure

from lingtrace.errors import AnalysisError

ALL = "all"


# --- helpers -------------------------------------------------------------------------------------------


def save_figure(fig: Figure, out_stem: str | os.PathLike, dpi: int) -> tuple[Path, Path]:
    """Write ``fig`` to ``{out_stem}.png`` and ``{out_stem}.svg`` (creating the folder); returns both paths."""
    stem = Path(out_stem)
    stem.parent.mkdir(parents=True, exist_ok=True)
    png, svg = stem.with_name(stem.name + ".png"), stem.with_name(stem.name + ".svg")
    fig.savefig(png, dpi=dpi)
    with matplotlib.rc_context({"svg.hashsalt": "lingtrace"}):  # fixed ids and no date: same figure, same bytes
        fig.savefig(svg, metadata={"Date": None})
    return png, svg


def _new_figure(width: float, height: float) -> Figure:
    fig = Figure(figsize=(width, height), layout="constrained")
    FigureCanvasAgg(fig)
    return fig


def _filtered(df: pl.DataFrame, **equal) -> pl.DataFrame:
    """Rows whose columns equal the given values; a value of None leaves its column free."""
    for column, value in equal.items():
        if value is not None:
            df = df.filter(pl.col(column) == value)
    if df.is_empty():
        raise AnalysisError(f"no rows to plot for {equal}")
    return df


def _single(df: pl.DataFrame, *columns: str) -> None:
    """Refuse a table that mixes several values of a column that one figure cannot show side by side."""
    for column in columns:
        if column in df.columns and df[column].n_unique() > 1:
            raise AnalysisError(f"the rows to plot mix several {column} values {sorted(df[column].unique().to_list())}; "
                             f"select one")


def checkpoint_order(checkpoints: Sequence[str]) -> list[str]:
    """Epochs in numeric order, then 'all'."""
    epochs = sorted((c for c in set(checkpoints) if c != ALL), key=float)
    return epochs + ([ALL] if ALL in checkpoints else [])


def row_language_order(test_langs: Sequence[str], train_langs: Sequence[str]) -> list[str]:
    """Training languages first (in their order), then the other (zero-shot) test languages, sorted."""
    present = set(test_langs)
    return [lang for lang in train_langs if lang in present] + sorted(present - set(train_langs))


def _checkpoint_title(checkpoint: str) -> str:
    return "sum over checkpoints" if checkpoint == ALL else f"epoch {checkpoint}"


def _grid(df: pl.DataFrame, rows: str, cols: str, value: str, row_order, col_order) -> np.ndarray:
    """A rows x cols array of ``value`` (NaN where a pair is missing)."""
    grid = np.full((len(row_order), len(col_order)), np.nan)
    r, c = {x: i for i, x in enumerate(row_order)}, {x: j for j, x in enumerate(col_order)}
    for a, b, v in df.select(rows, cols, value).iter_rows():
        if a in r and b in c and v is not None:
            grid[r[a], c[b]] = v
    return grid


def _norm(values: np.ndarray, diverging: bool) -> Normalize:
    finite = values[np.isfinite(values)]
    if finite.size == 0:
        return Normalize(0.0, 1.0)
    if diverging:
        limit = float(np.abs(finite).max()) or 1.0
        return Normalize(-limit, limit)
    low, high = float(finite.min()), float(finite.max())
    return Normalize(low, high if high > low else low + 1.0)


def _heatmap(ax, grid, row_labels, col_labels, cmap, norm, annotate: bool, fmt: str = "{:.2g}"):
    """Draw a labelled heatmap on ``ax``; returns the image, for a colorbar."""
    image = ax.imshow(np.ma.masked_invalid(grid), cmap=cmap, norm=norm, aspect="auto")
    ax.set_xticks(range(len(col_labels)), labels=list(col_labels), rotation=45, ha="right", rotation_mode="anchor")
    ax.set_yticks(range(len(row_labels)), labels=list(row_labels))
    if annotate:
        colormap = matplotlib.colormaps[cmap] if isinstance(cmap, str) else cmap
        for i in range(grid.shape[0]):
            for j in range(grid.shape[1]):
                if np.isfinite(grid[i, j]):
                    text = fmt.format(grid[i, j])
                    if text[0] in "+-" and text[1:].strip("0.") == "":  # a signed zero: "-0.00" -> "0.00"
                        text = text[1:]
                    luminance = np.dot(colormap(norm(grid[i, j]))[:3], [0.299, 0.587, 0.114])
                    ax.text(j, i, text, ha="center", va="center", fontsize=8,
                            color="black" if luminance > 0.5 else "white")
    return image


# --- figures -------------------------------------------------------------------------------------------


def _power_of_ten(values: np.ndarray) -> int:
    """The exponent that brings the largest |value| into [1, 10), or 0 when values are already readable."""
    finite = np.abs(values[np.isfinite(values)])
    if finite.size == 0 or finite.max() == 0:
        return 0
    exponent = int(np.floor(np.log10(finite.max())))
    return 0 if -1 <= exponent <= 2 else exponent


def _scaled_label(label: str, exponent: int) -> str:
    return label if exponent == 0 else f"{label} ($\\times 10^{{{exponent}}}$)"


def influence_heatmaps(
    matrix: pl.DataFrame,
    out_stem: str | os.PathLike,
    *,
    value: str = "mean_influence",
    variant: str,
    train_langs: Sequence[str] | None = None,
    cmap: str | None = None,
    dpi: int,
    annotate: bool = True,
    title: str | None = None,
) -> Figure:
    """The influence matrix (test x training language) as small multiples: one heatmap per epoch, then 'all'.

    ``matrix`` is ``analysis.matrix.influence_matrix``'s output (one run). The epoch panels share one
    colour scale, so they compare; 'all' (the sum over epochs) has its own. A diverging map centred at
    0 is used when the values take both signs, unless ``cmap`` is given.
    """
    rows = _filtered(matrix, variant=variant)
    _single(rows, "task", "run", "seed")
    train_langs = list(train_langs or sorted(rows["train_lang"].unique().to_list()))
    test_langs = row_language_order(rows["test_lang"].unique().to_list(), train_langs)
    checkpoints = checkpoint_order(rows["checkpoint"].unique().to_list())
    grids = {
        c: _grid(rows.filter(pl.col("checkpoint") == c), "test_lang", "train_lang", value, test_langs, train_langs)
        for c in checkpoints
    }
    every = np.concatenate([g.ravel() for g in grids.values()])
    finite = every[np.isfinite(every)]
    diverging = cmap is None and finite.size > 0 and finite.min() < 0 < finite.max()
    cmap = cmap or ("RdBu_r" if diverging else "viridis")
    fig = _new_figure(3.4 * len(checkpoints) + 1.6, 0.45 * len(test_langs) + 2.2)
    axes = dict(zip(checkpoints, fig.subplots(1, len(checkpoints), squeeze=False)[0]))
    scales = [[c for c in checkpoints if c != ALL], [c for c in checkpoints if c == ALL]]
    for group in (g for g in scales if g):
        exponent = _power_of_ten(np.concatenate([grids[c].ravel() for c in group]))
        scaled = {c: grids[c] / 10.0**exponent for c in group}
        norm = _norm(np.concatenate([g.ravel() for g in scaled.values()]), diverging)
        for c in group:
            ax = axes[c]
            image = _heatmap(ax, scaled[c], test_langs, train_langs, cmap, norm, annotate, "{:.2f}")
            ax.set_title(_checkpoint_title(c))
            ax.set_xlabel("training language")
            ax.set_ylabel("test language")
        fig.colorbar(image, ax=[axes[c] for c in group], shrink=0.85,
                     label=_scaled_label(value.replace("_", " "), exponent))
    fig.suptitle(title or f"Influence of each training language on each test language ({variant} TracIn)")
    save_figure(fig, out_stem, dpi)
    return fig


def progression_plot(
    progression: pl.DataFrame,
    out_stem: str | os.PathLike,
    *,
    direction: str = "proponent",
    k: int | None = None,
    train_langs: Sequence[str] | None = None,
    cmap: str = "tab10",
    dpi: int,
    title: str | None = None,
) -> Figure:
    """Cross-lingual share of the top-k over epochs, one line (with its interval band) per test language.

    ``progression`` is ``analysis.progression.share_by_checkpoint``'s output; one panel per variant.
    Zero-shot test languages are drawn dashed.
    """
    rows = _filtered(progression.filter(pl.col("checkpoint") != ALL), direction=direction, k=k)
    _single(rows, "task", "run", "seed", "k")
    variants = sorted(rows["variant"].unique().to_list())
    seen = rows.filter(~pl.col("zero_shot"))["test_lang"].unique().to_list()
    langs = row_language_order(rows["test_lang"].unique().to_list(), list(train_langs or sorted(seen)))
    colors = matplotlib.colormaps[cmap]
    fig = _new_figure(4.8 * len(variants) + 1.6, 3.8)
    axes = fig.subplots(1, len(variants), squeeze=False, sharey=True)[0]
    for ax, variant in zip(axes, variants):
        for i, lang in enumerate(langs):
            line = rows.filter((pl.col("variant") == variant) & (pl.col("test_lang") == lang)).sort("epoch")
            if line.is_empty():
                continue
            zero_shot = bool(line["zero_shot"][0])
            color = colors(i % colors.N)
            ax.plot(line["epoch"], line["crosslingual_share"], marker="o", color=color,
                    linestyle="--" if zero_shot else "-", label=f"{lang} (zero-shot)" if zero_shot else lang)
            ax.fill_between(line["epoch"], line["crosslingual_share_lo"], line["crosslingual_share_hi"],
                            color=color, alpha=0.2, linewidth=0)
        epochs = sorted(rows["epoch"].unique().to_list())
        ax.set_xticks(epochs, labels=[f"{e:g}" for e in epochs])
        ax.set_ylim(0.0, 1.02)
        ax.set_xlabel("epoch (checkpoint)")
        ax.set_ylabel(f"cross-lingual share of top-{rows['k'][0]} {direction}s")
        ax.set_title(f"{variant} TracIn")
        ax.grid(alpha=0.3)
    axes[-1].legend(title="test language", loc="center left", bbox_to_anchor=(1.02, 0.5))
    fig.suptitle(title or "Reliance on other languages' training data over fine-tuning")
    save_figure(fig, out_stem, dpi)
    return fig


def enrichment_bars(
    shares: pl.DataFrame,
    out_stem: str | os.PathLike,
    *,
    checkpoint: str = ALL,
    variant: str,
    direction: str = "proponent",
    k: int | None = None,
    train_langs: Sequence[str] | None = None,
    cmap: str = "tab10",
    dpi: int,
    title: str | None = None,
) -> Figure:
    """Enrichment over chance of each training language in the top-k, grouped by test language, with intervals.

    ``shares`` is ``analysis.shares.language_shares``'s output (one run). The dashed line at 1 is chance:
    a training language retrieved as often as its fraction of the training data.
    """
    rows = _filtered(shares, checkpoint=checkpoint, variant=variant, direction=direction, k=k)
    _single(rows, "task", "run", "seed", "k")
    train_langs = list(train_langs or sorted(rows["train_lang"].unique().to_list()))
    test_langs = row_language_order(rows["test_lang"].unique().to_list(), train_langs)
    colors = matplotlib.colormaps[cmap]
    width = 0.8 / len(train_langs)
    fig = _new_figure(1.1 * len(test_langs) * max(1.0, len(train_langs) / 4) + 2.5, 4.0)
    ax = fig.subplots()
    x = np.arange(len(test_langs))
    for j, lang in enumerate(train_langs):
        value, lo, hi = (
            _grid(rows, "test_lang", "train_lang", column, test_langs, [lang])[:, 0]
            for column in ("enrichment", "enrichment_lo", "enrichment_hi")
        )
        offset = (j - (len(train_langs) - 1) / 2) * width
        ax.bar(x + offset, value, width, color=colors(j % colors.N), label=lang,
               yerr=np.vstack([value - lo, hi - value]), capsize=2, error_kw={"linewidth": 0.8})
    ax.axhline(1.0, color="black", linestyle="--", linewidth=1, label="chance")
    ax.set_xticks(x, labels=test_langs)
    ax.set_xlabel("test language")
    ax.set_ylabel("enrichment over chance\n(top-k share / training fraction)")
    ax.legend(title="training language", loc="center left", bbox_to_anchor=(1.02, 0.5))
    ax.set_title(title or f"Which languages the top-{rows['k'][0]} {direction}s come from "
                          f"({variant}, {_checkpoint_title(checkpoint)})")
    save_figure(fig, out_stem, dpi)
    return fig


def ablation_heatmap(
    delta: pl.DataFrame,
    out_stem: str | os.PathLike,
    *,
    value: str = "delta_accuracy",
    removed_langs: Sequence[str] | None = None,
    cmap: str = "RdBu",
    dpi: int,
    annotate: bool = True,
    title: str | None = None,
) -> Figure:
    """Change in test accuracy (test language x removed training language), diverging colours centred at 0.

    ``delta`` has columns test_lang, removed_lang and ``value`` (accuracy without the language minus
    accuracy of the joint run).
    """
    _single(delta, "task", "seed")
    removed = list(removed_langs or sorted(delta["removed_lang"].unique().to_list()))
    test_langs = row_language_order(delta["test_lang"].unique().to_list(), removed)
    grid = _grid(delta, "test_lang", "removed_lang", value, test_langs, removed)
    fig = _new_figure(0.7 * len(removed) + 3.2, 0.5 * len(test_langs) + 2.0)
    ax = fig.subplots()
    image = _heatmap(ax, grid, test_langs, removed, cmap, _norm(grid, diverging=True), annotate, "{:+.2f}")
    fig.colorbar(image, ax=ax, label="Δ accuracy (without − joint)")
    ax.set_xlabel("removed training language")
    ax.set_ylabel("test language")
    ax.set_title(title or "Accuracy change when a language is left out of fine-tuning")
    save_figure(fig, out_stem, dpi)
    return fig


def empty_figure(out_stem: str | os.PathLike, message: str, *, dpi: int) -> Figure:
    """A placeholder figure saying why there is nothing to plot (the report keeps one file per figure)."""
    fig = _new_figure(5, 1.5)
    ax = fig.add_subplot()
    ax.axis("off")
    ax.text(0.5, 0.5, message, ha="center", va="center")
    save_figure(fig, out_stem, dpi)
    return fig

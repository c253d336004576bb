"""Figures: both files written and readable, axes labelled, language names on the ticks."""

import xml.etree.ElementTree as ET

import matplotlib.image as mpimg
import polars as pl
import pytest

from lingtrace.report.figures import (
    ablation_heatmap,
    checkpoint_order,
    enrichment_bars,
    influence_heatmaps,
    progression_plot,
    row_language_order,
)

TRAIN = ["aa", "bb", "cc"]
TEST = ["aa", "bb", "cc", "zz"]  # zz: zero-shot


def _check_files(stem):
    png, svg = stem.with_name(stem.name + ".png"), stem.with_name(stem.name + ".svg")
    image = mpimg.imread(png)
    assert image.ndim == 3 and image.shape[0] > 100 and image.shape[1] > 100
    assert ET.parse(svg).getroot().tag.endswith("svg")


def _ticks(labels):
    return [t.get_text() for t in labels]


@pytest.fixture
def matrix():
    rows = [
        {"checkpoint": c, "variant": v, "test_lang": t, "train_lang": l, "zero_shot": t == "zz",
         "mean_influence": (i - j) * (1 if c != "all" else 3) + 0.5, "relative_influence": 0.0}
        for c in ("1", "2", "10", "all")
        for v in ("dot", "cosine")
        for i, t in enumerate(TEST)
        for j, l in enumerate(TRAIN)
    ]
    return pl.DataFrame(rows)


@pytest.fixture
def progression():
    rows = []
    for variant in ("dot", "cosine"):
        for i, lang in enumerate(TEST):
            for epoch in (1, 2, 3):
                share = 1.0 if lang == "zz" else 0.3 + 0.1 * epoch + 0.02 * i
                rows.append({"test_lang": lang, "checkpoint": str(epoch), "variant": variant, "direction": "proponent",
                             "k": 10, "zero_shot": lang == "zz", "crosslingual_share": share,
                             "crosslingual_share_lo": share - 0.05, "crosslingual_share_hi": min(1.0, share + 0.05),
                             "epoch": float(epoch)})
    return pl.DataFrame(rows)


@pytest.fixture
def shares():
    rows = [
        {"test_lang": t, "checkpoint": "all", "variant": "cosine", "direction": "proponent", "k": 10,
         "train_lang": l, "zero_shot": t == "zz", "share": 1 / 3, "enrichment": 1.0 + 0.3 * (t == l),
         "enrichment_lo": 0.9, "enrichment_hi": 1.5}
        for t in TEST
        for l in TRAIN
    ]
    return pl.DataFrame(rows)


def test_orders():
    assert checkpoint_order(["all", "10", "2", "1"]) == ["1", "2", "10", "all"]
    assert row_language_order(["zz", "cc", "aa", "bb"], ["bb", "aa", "cc"]) == ["bb", "aa", "cc", "zz"]


def test_influence_heatmaps(matrix, tmp_path):
    stem = tmp_path / "fig" / "influence"
    fig = influence_heatmaps(matrix, stem, variant="cosine", dpi=60)
    _check_files(stem)
    heatmaps = [ax for ax in fig.axes if ax.get_label() != "<colorbar>"]
    assert [ax.get_title() for ax in heatmaps] == ["epoch 1", "epoch 2", "epoch 10", "sum over checkpoints"]
    for ax in heatmaps:
        assert ax.get_xlabel() == "training language" and ax.get_ylabel() == "test language"
        assert _ticks(ax.get_xticklabels()) == TRAIN
        assert _ticks(ax.get_yticklabels()) == TEST
    assert len(fig.axes) == 6  # 4 panels + a colorbar for the epochs and one for the sum
    assert fig.get_suptitle()


def test_progression_plot(progression, tmp_path):
    stem = tmp_path / "progression"
    fig = progression_plot(progression, stem, dpi=60)
    _check_files(stem)
    panels = [ax for ax in fig.axes]
    assert [ax.get_title() for ax in panels] == ["cosine TracIn", "dot TracIn"]
    ax = panels[0]
    assert ax.get_xlabel() == "epoch (checkpoint)" and "cross-lingual share" in ax.get_ylabel()
    assert _ticks(ax.get_xticklabels()) == ["1", "2", "3"]
    legend = [t.get_text() for t in panels[-1].get_legend().get_texts()]
    assert legend == ["aa", "bb", "cc", "zz (zero-shot)"]


def test_progression_plot_refuses_mixed_k(progression, tmp_path):
    mixed = pl.concat([progression, progression.with_columns(k=pl.lit(50, pl.Int64))])
    with pytest.raises(ValueError, match="k"):
        progression_plot(mixed, tmp_path / "p", dpi=40)
    progression_plot(mixed, tmp_path / "p", k=50, dpi=40)


def test_enrichment_bars(shares, tmp_path):
    stem = tmp_path / "enrichment"
    fig = enrichment_bars(shares, stem, variant="cosine", dpi=60)
    _check_files(stem)
    (ax,) = fig.axes
    assert ax.get_xlabel() == "test language" and "enrichment" in ax.get_ylabel()
    assert _ticks(ax.get_xticklabels()) == TEST
    legend = [t.get_text() for t in ax.get_legend().get_texts()]
    assert legend == ["chance", *TRAIN]
    assert ax.get_title()


def test_enrichment_bars_with_nothing_to_plot(shares, tmp_path):
    with pytest.raises(ValueError, match="no rows"):
        enrichment_bars(shares, tmp_path / "e", variant="dot", dpi=40)


def test_ablation_heatmap_is_centred_at_zero(tmp_path):
    delta = pl.DataFrame(
        [{"test_lang": t, "removed_lang": r, "delta_accuracy": -0.2 if t == r else 0.05} for t in TEST for r in TRAIN]
    )
    stem = tmp_path / "ablation"
    fig = ablation_heatmap(delta, stem, dpi=60)
    _check_files(stem)
    ax = fig.axes[0]
    assert ax.get_xlabel() == "removed training language" and ax.get_ylabel() == "test language"
    assert _ticks(ax.get_xticklabels()) == TRAIN and _ticks(ax.get_yticklabels()) == TEST
    low, high = ax.images[0].get_clim()
    assert low == pytest.approx(-0.2) and high == pytest.approx(0.2)


def test_svg_is_byte_identical_across_saves(tmp_path):
    delta = pl.DataFrame({"test_lang": ["aa", "bb"], "removed_lang": ["bb", "aa"], "delta_accuracy": [-0.1, 0.1]})
    ablation_heatmap(delta, tmp_path / "one", dpi=40)
    ablation_heatmap(delta, tmp_path / "two", dpi=40)
    assert (tmp_path / "one.svg").read_bytes() == (tmp_path / "two.svg").read_bytes()

"""The shared names of the study's tables and figures: unique, usable as file stems, and exactly the
tables the analysis writes and the figures the figure stage draws."""

import ast
import inspect
import re

import polars as pl
import pytest

from lingtrace.analysis import study as analysis_study
from lingtrace.analysis.study import write_tables
from lingtrace.errors import ConfigError
from lingtrace.layout import ANALYSIS_TABLES, FIGURES
from lingtrace.report import pages


def stored_keys(module, name: str) -> set[str]:
    """Constant keys stored into the dict ``name`` in a module: ``name = {...}`` and ``name["k"] = ...``."""
    keys = set()
    for node in ast.walk(ast.parse(inspect.getsource(module))):
        if (isinstance(node, ast.Assign) and isinstance(node.value, ast.Dict)
                and any(isinstance(t, ast.Name) and t.id == name for t in node.targets)):  # fmt: skip
            keys |= {k.value for k in node.value.keys}
        if (isinstance(node, ast.Subscript) and isinstance(node.ctx, ast.Store)
                and isinstance(node.value, ast.Name) and node.value.id == name):  # fmt: skip
            keys.add(node.slice.value)
    return keys


def test_names_are_unique_file_stems():
    for names in (ANALYSIS_TABLES, FIGURES):
        assert len(set(names)) == len(names)
        assert all(re.fullmatch(r"[a-z][a-z0-9_]*", n) for n in names)
    assert not set(ANALYSIS_TABLES) & set(FIGURES)


def test_tables_are_the_ones_the_analysis_writes():
    assert stored_keys(analysis_study, "tables") == set(ANALYSIS_TABLES)


def test_figures_are_the_ones_the_figure_stage_draws():
    used = set(re.findall(r'stems\["(\w+)"\]', inspect.getsource(pages.task_figures)))
    assert used == set(FIGURES)


def test_write_tables_needs_one_path_per_table_and_writes_absent_ones_empty(tmp_path):
    outs = [tmp_path / f"{name}.parquet" for name in ANALYSIS_TABLES]
    with pytest.raises(ConfigError, match="one Parquet path per table"):
        write_tables({}, outs[1:])
    write_tables({"planted": pl.DataFrame({"x": [1, 2]})}, outs)
    assert pl.read_parquet(tmp_path / "planted.parquet")["x"].to_list() == [1, 2]
    assert all((tmp_path / f"{name}.csv").exists() for name in ANALYSIS_TABLES)
    assert pl.read_parquet(tmp_path / "zero_shot.parquet").height == 0


def test_figure_stems_need_exactly_the_figures(tmp_path):
    outs = [tmp_path / f"{name}.{ext}" for name in FIGURES for ext in ("png", "svg")]
    assert pages.figure_stems(outs) == {name: tmp_path / name for name in FIGURES}
    with pytest.raises(ConfigError, match=r"missing \['ablation'\]"):
        pages.figure_stems([o for o in outs if o.stem != "ablation"])
    with pytest.raises(ConfigError, match="figures: give a PNG and an SVG path"):
        pages.figure_stems([*outs, tmp_path / "extra.png"])

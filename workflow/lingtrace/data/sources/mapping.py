"""Mapping a real dataset's rows onto the data contract, and sampling them (the ``hf`` and ``local`` sources).

Columns are mapped with ``task.columns`` (``text_a``, ``text_b``, ``label``, and optionally ``uid`` and
``item_id``) and labels with ``task.label_map``; a table holding several languages is filtered with
``task.lang_column`` (and ``task.lang_values`` where its values are not our codes).

Sampling: parallel tasks take the same items (``item_id``; by default the row position, which is how
PAWS-X and XNLI on the hub are aligned) in every language; other tasks sample each language on its
own. Sizes come from the source (``train_per_lang``/``train_sizes``/``test_per_lang``); a ``boost-L``
run's extra pool is the next ``(boost_factor - 1) * n`` sampled items of L, disjoint from the base pool.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import pyarrow as pa

from lingtrace.errors import DataError
from lingtrace.io.data import to_table
from lingtrace.seeding import stable_seed


def _column(table: pa.Table, name: str, where: str, role: str) -> list:
    if name not in table.column_names:
        raise DataError(f"{where}: no column {name!r} (columns.{role}); it has {table.column_names}")
    return table[name].to_pylist()


def _filter_language(table: pa.Table, task, lang: str, where: str) -> pa.Table:
    column = task.lang_column
    if not column:
        return table
    value = (task.lang_values or {}).get(lang, lang)
    values = _column(table, column, where, "lang_column")
    keep = [i for i, v in enumerate(values) if v == value]
    if not keep:
        raise DataError(f"{where}: no rows with {column} == {value!r} (language {lang!r}); values: {sorted(set(values))[:20]}")
    return table.take(keep)


def _labels(raw: list, task, where: str, uids: list[str]) -> list[int]:
    mapping = {str(k): v for k, v in (task.label_map or {}).items()}
    labels = []
    for uid, value in zip(uids, raw):
        if mapping:
            if str(value) not in mapping:
                raise DataError(f"{where}: row {uid!r} has label {value!r}, not in label_map {sorted(mapping)}")
            value = mapping[str(value)]
        try:
            label = int(value)
        except (TypeError, ValueError):
            raise DataError(f"{where}: row {uid!r} has label {value!r}, not an integer; add a label_map") from None
        if not 0 <= label < task.num_labels:
            raise DataError(f"{where}: row {uid!r} has label {label}, outside 0..{task.num_labels - 1}")
        labels.append(label)
    return labels


def contract_rows(raw: pa.Table, task, split: str, lang: str, where: str) -> list[dict]:
    """All rows of one language's raw table mapped onto the data contract (before sampling)."""
    raw = _filter_language(raw, task, lang, where)
    columns = task.columns
    if columns is None:
        raise DataError(f"tasks ({task.name}).columns: {task.source} tasks must map their columns (text_a, label, ...)")
    positions = [str(i) for i in range(raw.num_rows)]
    ids = [str(v) for v in _column(raw, columns.uid, where, "uid")] if columns.uid else positions
    items = [str(v) for v in _column(raw, columns.item_id, where, "item_id")] if columns.item_id else positions
    text_a = _column(raw, columns.text_a, where, "text_a")
    text_b = _column(raw, columns.text_b, where, "text_b") if columns.text_b else [None] * raw.num_rows
    labels = _labels(_column(raw, columns.label, where, "label"), task, where, ids)
    return [
        {
            "uid": f"{task.name}-{split}-{lang}-{uid}",
            "item_id": f"{task.name}-{split}-{item}" if task.parallel else f"{task.name}-{split}-{lang}-{item}",
            "lang": lang,
            "text_a": a,
            "text_b": b,
            "label": label,
            "_item": item,
        }
        for uid, item, a, b, label in zip(ids, items, text_a, text_b, labels)
    ]


def _shuffled(keys: list[str], *seed_parts) -> list[str]:
    keys = sorted(set(keys))
    order = np.random.default_rng(stable_seed(*seed_parts)).permutation(len(keys))
    return [keys[i] for i in order]


def sample_rows(rows_by_lang: dict[str, list[dict]], task, split: str, sizes: dict[str, int]) -> list[dict]:
    """The sampled rows of a split (``extra``: the extra pools, beyond each language's train sample).

    ``sizes`` are the base sample sizes per language (the train sizes for ``extra``)."""
    factor = int(task.boost_factor) if split == "extra" else 1
    stream = "train" if split == "extra" else split
    chosen = []
    if task.parallel:
        shared = set.intersection(*(set(r["_item"] for r in rows) for rows in rows_by_lang.values()))
        order = _shuffled(list(shared), task.sample_seed, task.name, stream)
    for lang, rows in rows_by_lang.items():
        if not task.parallel:
            order = _shuffled([r["_item"] for r in rows], task.sample_seed, task.name, stream, lang)
        n = sizes[lang]
        want = order[n : n * factor] if split == "extra" else order[:n]
        chosen += _pick(rows, want, n * (factor - 1) if split == "extra" else n, lang, task)
    return chosen


def _pick(rows: list[dict], want: list[str], needed: int, lang: str, task) -> list[dict]:
    if len(want) < needed:
        raise DataError(
            f"tasks ({task.name}): language {lang!r} has only {len(want)} usable items, {needed} were asked for"
            + (" (parallel tasks need items present in every language)" if task.parallel else "")
        )
    by_item = {}
    for row in rows:
        by_item.setdefault(row["_item"], row)  # the first row of an item
    return [{k: v for k, v in by_item[item].items() if k != "_item"} for item in want]


def load_mapped(source, task, split: str, lang: str | None, raw_table: Callable) -> pa.Table:
    """A split of a real dataset as the data contract; ``raw_table(task, split, lang)`` gives the
    source's (raw table, where) of one language (``extra`` reads the train split)."""
    source_split = "train" if split == "extra" else split
    if split == "extra":  # parallel tasks sample the same items in every language: sample them all
        langs = list(task.train_langs) if task.parallel else [lang]
    else:
        langs = source.languages(task, split)
    rows_by_lang = {}
    for code in langs:
        raw, where = raw_table(task, source_split, code)
        rows_by_lang[code] = contract_rows(raw, task, source_split, code, where)
    sizes = {code: source.size(task, source_split, code) for code in langs}
    rows = sample_rows(rows_by_lang, task, split, sizes)
    if split == "extra":
        rows = [r for r in rows if r["lang"] == lang]
    return to_table(rows)

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

import logging
import math
import re
from collections.abc import Callable

import numpy as np
import pyarrow as pa

from lingtrace.data.sources.raw import RawRows
from lingtrace.errors import DataError
from lingtrace.io.data import to_table
from lingtrace.seeding import stable_seed

log = logging.getLogger(__name__)


def _column(raw: RawRows, name: str, role: str) -> list:
    if name not in raw.columns:
        raise DataError(f"{raw.name}: no column {name!r} (columns.{role}); it has {list(raw.columns)}")
    return raw.columns[name]


def _language_rows(raw: RawRows, task, lang: str) -> list[int]:
    """The rows of ``lang``: every row, or those whose ``lang_column`` holds the language's value."""
    column = task.lang_column
    if not column:
        return list(range(raw.n_rows))
    value = (task.lang_values or {}).get(lang, lang)
    values = _column(raw, column, "lang_column")
    keep = [i for i, v in enumerate(values) if v == value]
    if not keep:
        shown = sorted({str(v) for v in values})[:20]
        raise DataError(f"{raw.name}: no rows with {column} == {value!r} (language {lang!r}); values: {shown}")
    return keep


def _identifiers(raw: RawRows, rows: list[int], name: str, role: str) -> list[str]:
    """A uid or item_id column's values as text: none empty, none repeated among ``rows`` (one language)."""
    values, first = _column(raw, name, role), {}
    for i in rows:
        value = values[i]
        if _blank(value) or isinstance(value, (dict, list)):
            what = "missing" if value is None else "empty" if _blank(value) else f"not a single value ({value!r})"
            raise DataError(f"{raw.where(i)}: column {name!r} (columns.{role}) is {what}")
        text = _unicode(raw, i, name, role, str(value))
        if text in first:
            raise DataError(f"{raw.where(i)}: column {name!r} (columns.{role}) repeats the value {text!r} of "
                            f"{raw.where(first[text])}; {UNIQUE[role]}")  # fmt: skip
        first[text] = i
    return [str(values[i]) for i in rows]


UNIQUE = {
    "uid": "uids must be unique within a language",
    "item_id": "item_ids must be unique within a language (translations share one across languages)",
}


def _texts(raw: RawRows, rows: list[int], name: str, role: str) -> list[str]:
    """A text column's values (present and non-empty: see ``_kept``): text, storable as UTF-8."""
    values = _column(raw, name, role)
    for i in rows:
        if not isinstance(values[i], str):
            raise DataError(f"{raw.where(i)}: column {name!r} (columns.{role}) is not text ({values[i]!r})")
        _unicode(raw, i, name, role, values[i])
    return [values[i] for i in rows]


def _blank(value) -> bool:
    return value is None or (isinstance(value, str) and not value.strip())


def _kept(raw: RawRows, rows: list[int], task, lang: str) -> list[int]:
    """The positions in ``rows`` of the rows to map: those whose texts are present and non-empty. A row
    with an empty text is refused, or with ``empty_texts: drop`` left out and counted in the log."""
    roles = [(role, getattr(task.columns, role)) for role in ("text_a", "text_b") if getattr(task.columns, role)]
    columns = [(role, name, _column(raw, name, role)) for role, name in roles]
    blank = {k for k, i in enumerate(rows) if any(_blank(values[i]) for _, _, values in columns)}
    if not blank:
        return list(range(len(rows)))
    first = rows[min(blank)]
    role, name, values = next(c for c in columns if _blank(c[2][first]))
    if task.empty_texts != "drop":
        what = "missing" if values[first] is None else "empty"
        raise DataError(f"{raw.where(first)}: column {name!r} (columns.{role}) is {what}; fix the row, or set "
                        f"empty_texts: drop in task {task.name} to leave such rows out")  # fmt: skip
    log.warning("%s: left out %d of %d rows of language %r with an empty text (empty_texts: drop), the first at %s",
                raw.name, len(blank), len(rows), lang, raw.where(first))  # fmt: skip
    return [k for k in range(len(rows)) if k not in blank]


def _unicode(raw: RawRows, i: int, name: str, role: str, text: str) -> str:
    """``text`` if it can be stored (UTF-8); JSON escapes can smuggle in lone surrogates that cannot."""
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        raise DataError(f"{raw.where(i)}: column {name!r} (columns.{role}) holds a lone surrogate "
                        "(an invalid \\uD800-\\uDFFF escape)") from None  # fmt: skip
    return text


WHOLE_NUMBER = re.compile(r"[+-]?[0-9]+(\.0*)?")


def whole_number(value) -> int | None:
    """A label's integer as written: an int, a float holding a whole number (1.0, as pandas writes
    integer columns with gaps) or its decimal text ("1", "1.0": CSV and TSV hold only text); None for
    anything else (1.7, "one", true, an empty cell), so that no label is silently rounded."""
    if isinstance(value, bool) or value is None:
        return None
    if isinstance(value, int):
        return value
    if isinstance(value, float):
        return int(value) if math.isfinite(value) and value.is_integer() else None
    if isinstance(value, str) and WHOLE_NUMBER.fullmatch(value.strip()):
        return int(value.strip().split(".")[0])
    return None


def _mapped(value, mapping: dict[str, int]) -> int | None:
    """``label_map``'s integer for a label: by its text, or by the whole number it holds ("1.0" as "1")."""
    number = whole_number(value)
    for key in (str(value), None if number is None else str(number)):
        if key in mapping:
            return mapping[key]
    return None


def _labels(raw: RawRows, rows: list[int], task) -> list[int]:
    name = task.columns.label
    values = _column(raw, name, "label")
    mapping = {str(k): v for k, v in (task.label_map or {}).items()}
    labels = []
    for i in rows:
        value = values[i]
        where = f"{raw.where(i)}: column {name!r} (columns.label)"
        if value is None or (isinstance(value, str) and not value.strip()):
            raise DataError(f"{where} is empty")
        if mapping:
            label = _mapped(value, mapping)
            if label is None:
                raise DataError(f"{where} holds {value!r}, not in label_map {sorted(mapping)}")
        else:
            label = whole_number(value)
            if label is None:
                raise DataError(f"{where} holds {value!r}, not a whole number; labels are integers "
                                f"0..{task.num_labels - 1} (or map them with label_map)")  # fmt: skip
        if not 0 <= label < task.num_labels:
            raise DataError(f"{where} holds {value!r}: label {label}, outside 0..{task.num_labels - 1}")
        labels.append(label)
    return labels


def contract_rows(raw: RawRows, task, split: str, lang: str) -> list[dict]:
    """Every row of one language mapped onto the data contract (before sampling). Every row is checked,
    sampled or not: texts non-empty (``task.empty_texts``), uids and item_ids present and unique, labels
    whole numbers in range (or in ``label_map``); a fault is a DataError naming the file, column and line
    or row."""
    columns = task.columns
    if columns is None:
        raise DataError(f"tasks ({task.name}).columns: {task.source} tasks must map their columns (text_a, label, ...)")
    rows = _language_rows(raw, task, lang)
    kept = _kept(raw, rows, task, lang)
    rows = [rows[k] for k in kept]
    positions = [str(k) for k in kept]  # a row's position among its language's rows, dropped ones included
    ids = _identifiers(raw, rows, columns.uid, "uid") if columns.uid else positions
    items = _identifiers(raw, rows, columns.item_id, "item_id") if columns.item_id else positions
    text_a = _texts(raw, rows, columns.text_a, "text_a")
    text_b = _texts(raw, rows, columns.text_b, "text_b") if columns.text_b else [None] * len(rows)
    labels = _labels(raw, rows, task)
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


def sample_rows(
    rows_by_lang: dict[str, list[dict]], task, split: str, sizes: dict[str, int], sources: dict[str, str] | None = None
) -> list[dict]:
    """The sampled rows of a split (``extra``: the extra pools, beyond each language's train sample).

    ``sizes`` are the base sample sizes per language (the train sizes for ``extra``); ``sources`` name
    each language's file or dataset in messages."""
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
        chosen += _pick(rows, want, n * (factor - 1) if split == "extra" else n, lang, task, (sources or {}).get(lang))
    return chosen


def _pick(rows: list[dict], want: list[str], needed: int, lang: str, task, source: str | None) -> list[dict]:
    if len(want) < needed:
        raise DataError(
            f"tasks ({task.name}): language {lang!r}" + (f" ({source})" if source else "")
            + f" has only {len(want)} usable items, {needed} were asked for"
            + (" (parallel tasks need items present in every language)" if task.parallel else "")
        )
    by_item = {row["_item"]: row for row in rows}  # item_ids are unique within a language (contract_rows)
    return [{k: v for k, v in by_item[item].items() if k != "_item"} for item in want]


def load_mapped(source, task, split: str, lang: str | None, raw_rows: Callable) -> pa.Table:
    """A split of a real dataset as the data contract; ``raw_rows(task, split, lang)`` gives the
    source's RawRows of one language (``extra`` reads the train split)."""
    source_split = "train" if split == "extra" else split
    if split == "extra":  # parallel tasks sample the same items in every language: sample them all
        langs = list(task.train_langs) if task.parallel else [lang]
    else:
        langs = source.languages(task, split)
    rows_by_lang, sources = {}, {}
    for code in langs:
        raw = raw_rows(task, source_split, code)
        rows_by_lang[code], sources[code] = contract_rows(raw, task, source_split, code), raw.name
    sizes = {code: source.size(task, source_split, code) for code in langs}
    rows = sample_rows(rows_by_lang, task, split, sizes, sources)
    if split == "extra":
        rows = [r for r in rows if r["lang"] == lang]
    return to_table(rows)

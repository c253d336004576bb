"""The ``hf`` and ``local`` data sources: real datasets mapped onto the data contract.

``hf`` loads ``datasets.load_dataset(task.dataset, config)`` per language (``task.configs`` maps a
language code to the dataset's config name; by default the code itself). ``local`` reads, per split
and language, a Parquet, JSON Lines, CSV/TSV file (or a directory of them) or a
``datasets.save_to_disk`` folder, named in ``task.files[split][lang]``. Both map columns with
``task.columns`` (``text_a``, ``text_b``, ``label``, and optionally ``uid`` and ``item_id``) and
labels with ``task.label_map``; a file holding several languages is filtered with
``task.lang_column`` (and ``task.lang_values`` where its values are not our codes).

Sampling: parallel tasks take the same items (``item_id``; by default the row position, which is
how PAWS-X and XNLI on the hub are aligned) in every language; other tasks sample each language on
its own. Sizes come from ``train_per_lang``/``train_sizes``/``test_per_lang``; a ``boost-L`` run's
extra pool is the next ``(boost_factor - 1) * n`` sampled items of L, disjoint from the base pool.
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pyarrow as pa

from lingtrace.seeding import stable_seed
from lingtrace.errors import ConfigError, DataError
from lingtrace.io.data import to_table

FORMATS = {".parquet": "parquet", ".jsonl": "json", ".json": "json", ".csv": "csv", ".tsv": "tsv"}


def hub_hint(name: str) -> str:
    return (
        f"could not load dataset {name!r} from the Hugging Face hub. With no network (or HF_HUB_OFFLINE=1), "
        f"download it elsewhere (`datasets.load_dataset({name!r}, CONFIG).save_to_disk(DIR)` per language), "
        "copy the folders here and use source: local with files: {split: {lang: DIR}}"
    )


# --- reading ---------------------------------------------------------------------------------


DECLARED = {"parquet": "parquet", "jsonl": "json", "json": "json", "csv": "csv", "tsv": "tsv", "arrow": "arrow"}


def _detect_format(path: Path, declared: str) -> str:
    if declared and declared != "auto":
        return DECLARED[declared]
    if path.is_dir():
        if (path / "dataset_info.json").exists() or (path / "state.json").exists():
            return "arrow"
        suffixes = {p.suffix for p in path.iterdir() if p.suffix in FORMATS}
        if len(suffixes) != 1:
            raise DataError(f"{path}: cannot tell the format of this directory (found {sorted(suffixes)}); set format:")
        return FORMATS[suffixes.pop()]
    if path.suffix not in FORMATS:
        raise DataError(f"{path}: unknown file type {path.suffix!r}; set format: parquet, jsonl, csv, tsv or arrow")
    return FORMATS[path.suffix]


def _data_files(path: Path) -> list[str]:
    if path.is_dir():
        return sorted(str(p) for p in path.iterdir() if p.suffix in FORMATS)
    return [str(path)]


def read_local(path: str | os.PathLike, declared_format: str = "auto") -> pa.Table:
    """One local file or folder as an Arrow table, through ``datasets``; unreadable input (bad
    encoding, broken JSON or CSV, a corrupt Parquet file) is a DataError naming the file."""
    path = Path(path)
    if not path.exists():
        raise DataError(f"{path}: no such file or directory")
    fmt = _detect_format(path, declared_format)
    try:
        return _load_local(path, fmt)
    except DataError:
        raise
    except UnicodeDecodeError as err:
        raise DataError(f"{path}: not valid UTF-8 text (byte {err.start}: {err.reason}); re-encode it as UTF-8") from None
    except Exception as err:  # datasets wraps parser errors in its own types
        cause = err.__cause__ or err.__context__
        if isinstance(cause, UnicodeDecodeError):
            raise DataError(f"{path}: not valid UTF-8 text (byte {cause.start}: {cause.reason}); re-encode it as UTF-8") from None
        raise DataError(f"{path}: cannot be read as {fmt} ({type(err).__name__}: {err})") from None


def _load_local(path: Path, fmt: str) -> pa.Table:
    import datasets

    if fmt == "arrow":
        loaded = datasets.load_from_disk(str(path))
        if isinstance(loaded, datasets.DatasetDict):
            raise DataError(f"{path}: a DatasetDict; name one of its splits' folders ({list(loaded)})")
        return loaded.data.table
    if fmt in ("csv", "tsv"):
        # Raw PAWS-X TSV has unbalanced quotes inside sentences: read quotes as text (QUOTE_NONE).
        kwargs = {"delimiter": "\t", "quoting": 3} if fmt == "tsv" else {}
        loaded = datasets.load_dataset("csv", data_files=_data_files(path), split="train", **kwargs)
    else:
        loaded = datasets.load_dataset(fmt, data_files=_data_files(path), split="train")
    return loaded.data.table


def read_hub(task: dict, split: str, lang: str) -> pa.Table:
    import datasets

    name = task["dataset"]
    config = (task.get("configs") or {}).get(lang, lang)
    hf_split = (task.get("splits") or {}).get(split, split)
    try:
        loaded = datasets.load_dataset(name, config, split=hf_split, trust_remote_code=task.get("trust_remote_code", False))
    except ValueError as err:  # an unknown config or split: name the language
        raise DataError(f"tasks ({task['name']}): dataset {name!r} has no config {config!r} for language {lang!r} "
                        f"or no split {hf_split!r} ({err})") from None  # fmt: skip
    except (ConnectionError, OSError, FileNotFoundError) as err:
        raise ConfigError(f"tasks ({task['name']}).dataset: {hub_hint(name)} ({type(err).__name__}: {err})") from None
    return loaded.data.table


def source_table(task: dict, split: str, lang: str) -> tuple[pa.Table, str]:
    """(raw table, where) for one split and language."""
    if task["source"] == "hf":
        return read_hub(task, split, lang), f"{task['dataset']}[{(task.get('configs') or {}).get(lang, lang)}]"
    files = (task.get("files") or {}).get(split) or {}
    if lang not in files:
        raise DataError(f"tasks ({task['name']}).files.{split}: no file for language {lang!r} (have {sorted(files)})")
    table = read_local(files[lang], task.get("format", "auto"))
    return table, str(files[lang])


# --- mapping onto the contract ----------------------------------------------------------------


def _column(table: pa.Table, name: str, where: str, role: str) -> list:
    if name not in table.column_names:
        raise DataError(f"{where}: no column {name!r} (columns.{role}); it has {table.column_names}")
    return table[name].to_pylist()


def _filter_language(table: pa.Table, task: dict, lang: str, where: str) -> pa.Table:
    column = task.get("lang_column")
    if not column:
        return table
    value = (task.get("lang_values") or {}).get(lang, lang)
    values = _column(table, column, where, "lang_column")
    keep = [i for i, v in enumerate(values) if v == value]
    if not keep:
        raise DataError(f"{where}: no rows with {column} == {value!r} (language {lang!r}); values: {sorted(set(values))[:20]}")
    return table.take(keep)


def _labels(raw: list, task: dict, where: str, uids: list[str]) -> list[int]:
    mapping = {str(k): v for k, v in (task.get("label_map") or {}).items()}
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
        if not 0 <= label < task["num_labels"]:
            raise DataError(f"{where}: row {uid!r} has label {label}, outside 0..{task['num_labels'] - 1}")
        labels.append(label)
    return labels


def contract_rows(raw: pa.Table, task: dict, split: str, lang: str, where: str) -> list[dict]:
    """All rows of one language's raw table mapped onto the data contract (before sampling)."""
    raw = _filter_language(raw, task, lang, where)
    columns = task["columns"]
    positions = [str(i) for i in range(raw.num_rows)]
    ids = [str(v) for v in _column(raw, columns["uid"], where, "uid")] if columns.get("uid") else positions
    items = [str(v) for v in _column(raw, columns["item_id"], where, "item_id")] if columns.get("item_id") else positions
    text_a = _column(raw, columns["text_a"], where, "text_a")
    text_b = _column(raw, columns["text_b"], where, "text_b") if columns.get("text_b") else [None] * raw.num_rows
    labels = _labels(_column(raw, columns["label"], where, "label"), task, where, ids)
    return [
        {
            "uid": f"{task['name']}-{split}-{lang}-{uid}",
            "item_id": f"{task['name']}-{split}-{item}" if task.get("parallel") else f"{task['name']}-{split}-{lang}-{item}",
            "lang": lang,
            "text_a": a,
            "text_b": b,
            "label": label,
            "_item": item,
        }
        for uid, item, a, b, label in zip(ids, items, text_a, text_b, labels)
    ]


# --- sampling ---------------------------------------------------------------------------------


def _sizes(task: dict, split: str, langs: list[str]) -> dict[str, int]:
    if split == "test":
        return {lang: task["test_per_lang"] for lang in langs}
    sizes = task.get("train_sizes") or {}
    return {lang: int(sizes.get(lang, task["train_per_lang"])) for lang in langs}


def _shuffled(keys: list[str], *seed_parts) -> list[str]:
    keys = sorted(set(keys))
    order = np.random.default_rng(stable_seed(*seed_parts)).permutation(len(keys))
    return [keys[i] for i in order]


def sample_rows(rows_by_lang: dict[str, list[dict]], task: dict, split: str, extra_lang: str | None = None) -> list[dict]:
    """The sampled rows of a split (or, with ``extra_lang``, that language's extra pool)."""
    langs = list(rows_by_lang)
    sizes = _sizes(task, "train" if split == "extra" else split, langs)
    seed = task.get("sample_seed", 0)
    factor = int(task.get("boost_factor", 1)) if split == "extra" else 1
    chosen = []
    if task.get("parallel"):
        shared = set.intersection(*(set(r["_item"] for r in rows) for rows in rows_by_lang.values()))
        order = _shuffled(list(shared), seed, task["name"], "train" if split == "extra" else split)
        for lang, rows in rows_by_lang.items():
            want = order[sizes[lang] : sizes[lang] * factor] if split == "extra" else order[: sizes[lang]]
            chosen += _pick(rows, want, sizes[lang] * (factor - 1) if split == "extra" else sizes[lang], lang, task)
    else:
        for lang, rows in rows_by_lang.items():
            order = _shuffled([r["_item"] for r in rows], seed, task["name"], "train" if split == "extra" else split, lang)
            want = order[sizes[lang] : sizes[lang] * factor] if split == "extra" else order[: sizes[lang]]
            chosen += _pick(rows, want, sizes[lang] * (factor - 1) if split == "extra" else sizes[lang], lang, task)
    return chosen


def _pick(rows: list[dict], want: list[str], needed: int, lang: str, task: dict) -> list[dict]:
    if len(want) < needed:
        raise DataError(
            f"tasks ({task['name']}): language {lang!r} has only {len(want)} usable items, {needed} were asked for"
            + (" (parallel tasks need items present in every language)" if task.get("parallel") else "")
        )
    by_item = {}
    for row in rows:
        by_item.setdefault(row["_item"], row)  # the first row of an item
    return [{k: v for k, v in by_item[item].items() if k != "_item"} for item in want]


def load_split(task: dict, split: str, lang: str | None = None) -> pa.Table:
    """A split of an ``hf`` or ``local`` task as the data contract (``extra``: a boosted language's pool)."""
    source_split = "train" if split == "extra" else split
    if split == "extra":
        langs = list(task["train_langs"]) if task.get("parallel") else [lang]
    else:
        langs = list(task["train_langs"] if split == "train" else task["test_langs"])
    rows_by_lang = {}
    for code in langs:
        raw, where = source_table(task, source_split, code)
        rows_by_lang[code] = contract_rows(raw, task, source_split, code, where)
    if split == "extra":
        rows = [r for r in sample_rows(rows_by_lang, task, "extra") if r["lang"] == lang]
    else:
        rows = sample_rows(rows_by_lang, task, split)
    return to_table(rows)

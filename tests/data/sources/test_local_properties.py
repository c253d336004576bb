"""Property: a small local dataset in any supported format, with or without random defects (bytes that
are not UTF-8, a missing column or value, a bad label, a duplicate uid, an empty text, an extra field),
is either accepted with exactly its rows (those with an empty text left out under ``empty_texts: drop``)
or refused with a LingtraceError that names the file; no other exception escapes."""

import csv
import io
import json
import tempfile
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
from hypothesis import event, given, settings
from hypothesis import strategies as st

from lingtrace.data.prepare import load_split
from lingtrace.errors import LingtraceError

FORMATS = ("parquet", "jsonl", "csv", "tsv")
COLUMNS = ("id", "text", "y")
NUM_LABELS = 3
LATIN1 = "\N{SECTION SIGN}"  # stands for a Latin-1 byte in the written file; never in generated text
TEXT_CHARS = {
    "parquet": "ab xyz,.'\"-éжκ한\n",
    "jsonl": "ab xyz,.'\"-éжκ한\n\u2028",
    "csv": "ab xyz,.'\"-éжκ한\n",
    "tsv": "ab xyz,.'\"-éжκ한",  # a TSV field cannot hold a tab or a line break
}
BAD_LABELS = (1.7, "x", -1, NUM_LABELS, None, "", True, "1.5")
DEFECTS = ("encoding", "missing_column", "missing_value", "bad_label", "duplicate_uid", "empty_text", "extra_field")
APPLIES = {
    "parquet": {"missing_column", "missing_value", "bad_label", "duplicate_uid", "empty_text"},
    "jsonl": {"encoding", "missing_column", "missing_value", "bad_label", "duplicate_uid", "empty_text"},
    "csv": set(DEFECTS) - {"missing_value"},
    "tsv": set(DEFECTS) - {"missing_value"},
}


@st.composite
def datasets(draw):
    """(format, rows, defects): rows as dicts of the three columns, with the defects applied."""
    fmt = draw(st.sampled_from(FORMATS))
    n = draw(st.integers(1, 6))
    uids = draw(st.lists(st.text("abc012", min_size=1, max_size=4), min_size=n, max_size=n, unique=True))
    text = st.text(TEXT_CHARS[fmt], min_size=1, max_size=10).filter(str.strip)
    rows = [{"id": uid, "text": draw(text), "y": draw(st.integers(0, NUM_LABELS - 1))} for uid in uids]
    applicable = sorted(APPLIES[fmt] - ({"duplicate_uid"} if n < 2 else set()))
    defects = draw(st.lists(st.sampled_from(applicable), max_size=2, unique=True))
    for defect in defects:
        apply_defect(draw, defect, rows, fmt)
    return fmt, rows, defects


def apply_defect(draw, defect: str, rows: list[dict], fmt: str) -> None:
    i = draw(st.integers(0, len(rows) - 1))
    if defect == "encoding":
        rows[i]["text"] = (rows[i].get("text") or "x") + LATIN1
    elif defect == "missing_column":
        column = draw(st.sampled_from(COLUMNS))
        for row in rows:
            row.pop(column, None)
    elif defect == "missing_value":
        rows[i].pop(draw(st.sampled_from(COLUMNS)), None)
    elif defect == "bad_label":
        label = draw(st.sampled_from(BAD_LABELS if fmt == "jsonl" else [v for v in BAD_LABELS if v is not True]))
        rows[i]["y"] = label
    elif defect == "duplicate_uid":
        j = draw(st.integers(0, len(rows) - 1).filter(lambda j: j != i))
        if "id" in rows[i] and "id" in rows[j]:
            rows[j]["id"] = rows[i]["id"]
        else:  # a column already gone is defect enough
            rows[j].pop("id", None)
    elif defect == "empty_text":
        rows[i]["text"] = draw(st.sampled_from(["", "  "] + ([None] if fmt in ("jsonl", "parquet") else [])))
    elif defect == "extra_field":
        rows[i]["extra"] = "more"


def write(fmt: str, rows: list[dict], folder: Path) -> Path:
    path = folder / f"train.{fmt}"
    if fmt == "parquet":
        pq.write_table(arrow_table(rows), path)
        return path
    if fmt == "jsonl":
        text = "".join(json.dumps(row, ensure_ascii=False) + "\n" for row in rows)
    else:
        header = [c for c in COLUMNS if any(c in row for row in rows)]
        lines = [header] + [[cell(row.get(c)) for c in header] + ([row["extra"]] if "extra" in row else []) for row in rows]
        text = delimited(lines, fmt)
    path.write_bytes(text.encode("utf-8").replace(LATIN1.encode("utf-8"), b"\xe9"))
    return path


def cell(value) -> str:
    return "" if value is None else str(value)


def delimited(lines: list[list[str]], fmt: str) -> str:
    if fmt == "tsv":
        return "".join("\t".join(line) + "\n" for line in lines)
    out = io.StringIO()
    csv.writer(out, lineterminator="\n").writerows(lines)
    return out.getvalue()


def arrow_table(rows: list[dict]) -> pa.Table:
    """A column of mixed Python types (a bad label) as one Arrow type: text if any value is text, else float."""
    columns = {c: [row.get(c) for row in rows] for c in COLUMNS if any(c in row for row in rows)}
    labels = columns.get("y", [])
    if any(isinstance(v, str) for v in labels):
        columns["y"] = [None if v is None else str(v) for v in labels]
    elif any(isinstance(v, float) for v in labels):
        columns["y"] = [None if v is None else float(v) for v in labels]
    return pa.table(columns)


def expected(rows: list[dict], empty_texts: str) -> dict | None:
    """What loading must give, {uid: (text, label)}, or None where it must refuse; the generated values
    are either clean or certainly wrong, so this need not parse anything."""
    if any(LATIN1 in str(row.get("text")) or "extra" in row for row in rows):
        return None
    if any(all(column not in row for row in rows) for column in COLUMNS):
        return None
    kept = [row for row in rows if isinstance(row.get("text"), str) and row["text"].strip()]
    if not kept or (len(kept) < len(rows) and empty_texts == "refuse"):
        return None
    uids = [row.get("id") for row in kept]
    if None in uids or len(set(uids)) < len(uids):
        return None
    if any(type(row.get("y")) is not int or not 0 <= row["y"] < NUM_LABELS for row in kept):
        return None
    return {f"t-train-en-{row['id']}": (row["text"], row["y"]) for row in kept}


def task(path: Path, fmt: str, n: int, empty_texts: str) -> dict:
    return {"name": "t", "source": "local", "num_labels": NUM_LABELS, "train_langs": ["en"], "test_langs": ["en"],
            "train_per_lang": n, "files": {"train": {"en": str(path)}}, "format": fmt, "empty_texts": empty_texts,
            "columns": {"uid": "id", "text_a": "text", "label": "y"}}  # fmt: skip


@settings(max_examples=300, deadline=None, database=None)
@given(datasets(), st.sampled_from(["refuse", "drop"]))
def test_accepted_with_its_rows_or_refused_naming_the_file(dataset, empty_texts):
    fmt, rows, defects = dataset
    want = expected(rows, empty_texts)
    with tempfile.TemporaryDirectory() as folder:
        path = write(fmt, rows, Path(folder))
        try:
            table = load_split(task(path, fmt, len(want or rows), empty_texts), "train")
        except LingtraceError as err:
            event(f"{fmt}: refused")
            assert want is None, f"refused ({defects}): {err}"
            assert str(path) in str(err), err
            return
    event(f"{fmt}: accepted" + (" with defects" if defects else ""))
    got = {uid: (text, label) for uid, text, label in zip(*table.select(["uid", "text_a", "label"]).to_pydict().values())}
    assert got == want, defects

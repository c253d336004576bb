"""The hf and local sources on offline fixtures in the real datasets' layouts."""

import json

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from lingtrace.data.prepare import load_split
from lingtrace.errors import ConfigError, DataError
from lingtrace.io.data import DATA_SCHEMA, check_data

# Hand-written parallel items: (id, sentence1, sentence2, label) per language.
PAWS = {
    "en": [(1, "The cat sat.", "The cat was sitting.", 1), (2, "A dog ran.", "A ran dog.", 0),
           (3, "Rain fell.", "It rained.", 1), (4, "He left early.", "He arrived early.", 0)],
    "de": [(1, "Die Katze saß.", "Die Katze hat gesessen.", 1), (2, "Ein Hund lief.", "Ein lief Hund.", 0),
           (3, "Regen fiel.", "Es regnete.", 1), (4, "Er ging früh.", "Er kam früh an.", 0)],
    "ko": [(1, "고양이가 앉았다.", "고양이가 앉아 있었다.", 1), (2, "개가 달렸다.", "달렸다 개가.", 0),
           (3, "비가 왔다.", "비가 내렸다.", 1), (4, "그는 일찍 떠났다.", "그는 일찍 도착했다.", 0)],
}  # fmt: skip


def write_pawsx_tsv(folder):
    """The raw PAWS-X release: {lang}/train.tsv with a header id, sentence1, sentence2, label."""
    for lang, rows in PAWS.items():
        (folder / lang).mkdir(parents=True)
        lines = ["id\tsentence1\tsentence2\tlabel"] + [f"{i}\t{a}\t{b}\t{y}" for i, a, b, y in rows]
        # PAWS-X has unbalanced quotes inside sentences; they must be read as text
        lines.append('5\tShe said "hi.\tShe said hello.\t1')
        (folder / lang / "train.tsv").write_text("\n".join(lines) + "\n")
    return {lang: str(folder / lang / "train.tsv") for lang in PAWS}


def write_xnli_jsonl(path):
    """XNLI 1.0's xnli.test.jsonl: all languages in one file, string labels, pairID shared."""
    labels = ["entailment", "neutral", "contradiction"]
    with open(path, "w") as fh:
        for lang, rows in PAWS.items():
            for i, a, b, y in rows:
                fh.write(json.dumps({"language": lang, "gold_label": labels[(i + y) % 3], "sentence1": a,
                                     "sentence2": b, "pairID": f"p{i}"}, ensure_ascii=False) + "\n")  # fmt: skip
    return str(path)


def write_marc_jsonl(folder):
    """MARC's JSON lines: review_id, stars (1-5), review_body, language; not parallel."""
    paths = {}
    for lang in ("en", "de"):
        path = folder / f"marc_{lang}.jsonl"
        with open(path, "w") as fh:
            for i in range(6):
                fh.write(json.dumps({"review_id": f"{lang}_{i}", "stars": 1 + i % 5, "language": lang,
                                     "review_body": f"review {i} in {lang}"}) + "\n")  # fmt: skip
        paths[lang] = str(path)
    return paths


PAWS_TASK = {
    "name": "pawsx", "source": "local", "num_labels": 2, "parallel": True, "train_langs": ["en", "de", "ko"],
    "test_langs": ["en", "de", "ko"], "train_per_lang": 3, "test_per_lang": 2, "boost_factor": 2,
    "columns": {"uid": "id", "item_id": "id", "text_a": "sentence1", "text_b": "sentence2", "label": "label"},
}  # fmt: skip


def test_pawsx_tsv_layout_is_parallel(tmp_path):
    task = {**PAWS_TASK, "files": {"train": write_pawsx_tsv(tmp_path)}}
    table = load_split(task, "train")
    assert table.schema.equals(DATA_SCHEMA)
    check_data(table, "pawsx", num_labels=2, languages=["en", "de", "ko"])
    items = {}
    for row in table.to_pylist():
        items.setdefault(row["item_id"], set()).add(row["lang"])
    assert len(items) == 3 and all(langs == {"en", "de", "ko"} for langs in items.values())
    assert table.num_rows == 9


def test_boost_pool_is_disjoint(tmp_path):
    task = {**PAWS_TASK, "files": {"train": write_pawsx_tsv(tmp_path)}, "train_per_lang": 2}
    base = load_split(task, "train")
    extra = load_split(task, "extra", lang="de")
    assert set(extra["lang"].to_pylist()) == {"de"} and extra.num_rows == 2
    assert not set(extra["uid"].to_pylist()) & set(base["uid"].to_pylist())


def test_xnli_jsonl_with_language_column_and_label_map(tmp_path):
    path = write_xnli_jsonl(tmp_path / "xnli.test.jsonl")
    task = {
        "name": "xnli", "source": "local", "num_labels": 3, "parallel": True, "train_langs": ["en"],
        "test_langs": ["en", "de", "ko"], "test_per_lang": 4, "files": {"test": {l: path for l in PAWS}},
        "lang_column": "language", "label_map": {"entailment": 0, "neutral": 1, "contradiction": 2},
        "columns": {"item_id": "pairID", "text_a": "sentence1", "text_b": "sentence2", "label": "gold_label"},
    }  # fmt: skip
    table = load_split(task, "test")
    assert table.num_rows == 12
    by_item = {}
    for row in table.to_pylist():
        by_item.setdefault(row["item_id"], set()).add(row["label"])
    assert all(len(labels) == 1 for labels in by_item.values())  # translations keep their label


def test_marc_jsonl_is_sampled_per_language(tmp_path):
    task = {
        "name": "marc", "source": "local", "num_labels": 5, "parallel": False, "train_langs": ["en", "de"],
        "test_langs": ["en", "de"], "train_per_lang": 4, "files": {"train": write_marc_jsonl(tmp_path)},
        "columns": {"uid": "review_id", "text_a": "review_body", "label": "stars"},
        "label_map": {"1": 0, "2": 1, "3": 2, "4": 3, "5": 4},
    }  # fmt: skip
    table = load_split(task, "train")
    assert table.num_rows == 8 and table["text_b"].null_count == 8
    assert len(set(table["item_id"].to_pylist())) == 8  # not parallel: every review its own item


@pytest.mark.parametrize("fmt", ["parquet", "csv", "arrow"])
def test_other_local_formats(tmp_path, fmt):
    rows = pa.table({"s1": ["a b", "c d", "e f"], "s2": ["b a", "d c", "f e"], "y": [0, 1, 0]})
    if fmt == "parquet":
        path = tmp_path / "en.parquet"
        pq.write_table(rows, path)
    elif fmt == "csv":
        path = tmp_path / "en.csv"
        path.write_text("s1,s2,y\n" + "\n".join(f"{a},{b},{y}" for a, b, y in zip(*rows.to_pydict().values())))
    else:
        import datasets

        path = tmp_path / "en_disk"
        datasets.Dataset(rows).save_to_disk(str(path))
    task = {"name": "t", "source": "local", "num_labels": 2, "train_langs": ["en"], "test_langs": ["en"],
            "train_per_lang": 3, "files": {"train": {"en": str(path)}},
            "columns": {"text_a": "s1", "text_b": "s2", "label": "y"}}  # fmt: skip
    assert load_split(task, "train").num_rows == 3


def test_missing_column_is_named(tmp_path):
    task = {**PAWS_TASK, "files": {"train": write_pawsx_tsv(tmp_path)},
            "columns": {**PAWS_TASK["columns"], "text_b": "sentence_2"}}  # fmt: skip
    with pytest.raises(DataError, match=r"train.tsv: no column 'sentence_2' \(columns.text_b\)"):
        load_split(task, "train")


def test_unknown_language_is_named(tmp_path):
    task = {**PAWS_TASK, "files": {"train": write_pawsx_tsv(tmp_path)}, "train_langs": ["en", "xx"]}
    with pytest.raises(DataError, match=r"no file for language 'xx'"):
        load_split(task, "train")
    path = write_xnli_jsonl(tmp_path / "x.jsonl")
    task = {"name": "x", "source": "local", "num_labels": 3, "train_langs": ["sw"], "test_langs": ["sw"],
            "test_per_lang": 1, "files": {"test": {"sw": path}}, "lang_column": "language",
            "columns": {"text_a": "sentence1", "label": "gold_label"}}  # fmt: skip
    with pytest.raises(DataError, match=r"no rows with language == 'sw'"):
        load_split(task, "test")


def test_label_outside_the_map_is_named(tmp_path):
    path = write_xnli_jsonl(tmp_path / "x.jsonl")
    task = {"name": "x", "source": "local", "num_labels": 3, "train_langs": ["en"], "test_langs": ["en"],
            "test_per_lang": 2, "files": {"test": {"en": path}}, "lang_column": "language",
            "label_map": {"entailment": 0, "neutral": 1},
            "columns": {"text_a": "sentence1", "label": "gold_label"}}  # fmt: skip
    with pytest.raises(DataError, match=r"x.jsonl line 1: column 'gold_label' \(columns.label\) holds 'contradiction', "
                                         r"not in label_map"):  # fmt: skip
        load_split(task, "test")


def hub_style_repo(folder):
    """A dataset repository as on the hub (README configs per language), loadable offline by path."""
    folder.mkdir()
    configs = []
    for lang, rows in PAWS.items():
        for split in ("train", "test"):
            pq.write_table(pa.table({"id": [r[0] for r in rows], "sentence1": [r[1] for r in rows],
                                     "sentence2": [r[2] for r in rows], "label": [r[3] for r in rows]}),
                           folder / f"{lang}-{split}.parquet")  # fmt: skip
        configs.append(f"- config_name: {lang}\n  data_files:\n  - split: train\n    path: {lang}-train.parquet\n"
                       f"  - split: test\n    path: {lang}-test.parquet")  # fmt: skip
    (folder / "README.md").write_text("---\nconfigs:\n" + "\n".join(configs) + "\n---\n")
    return str(folder)


def test_hf_source_loads_per_language_configs(tmp_path):
    task = {**PAWS_TASK, "source": "hf", "dataset": hub_style_repo(tmp_path / "paws-x")}
    table = load_split(task, "train")
    assert table.num_rows == 9 and sorted(set(table["lang"].to_pylist())) == ["de", "en", "ko"]


def test_hf_unknown_config_names_the_language(tmp_path):
    task = {**PAWS_TASK, "source": "hf", "dataset": hub_style_repo(tmp_path / "paws-x"), "train_langs": ["en", "xx"]}
    with pytest.raises(DataError, match="language 'xx'"):
        load_split(task, "train")


def test_unreachable_hub_name_says_how_to_provide_it(monkeypatch):
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    task = {**PAWS_TASK, "source": "hf", "dataset": "no-such-org/no-such-dataset"}
    with pytest.raises(ConfigError, match=r"no-such-org/no-such-dataset.*save_to_disk"):
        load_split(task, "train")


def test_non_utf8_file_is_named(tmp_path):
    path = tmp_path / "latin1.csv"
    path.write_bytes("a,y\ncaf\xe9 cr\xe8me,1\n".encode("latin-1"))
    task = {"name": "t", "source": "local", "num_labels": 2, "train_langs": ["fr"], "test_langs": ["fr"],
            "train_per_lang": 1, "files": {"train": {"fr": str(path)}}, "columns": {"text_a": "a", "label": "y"}}
    with pytest.raises(DataError, match=r"latin1.csv line 2: not valid UTF-8"):
        load_split(task, "train")

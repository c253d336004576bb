"""`lingtrace explain` on a hand-made study: what it shows, in which order, and the errors it gives."""

import json

import polars as pl
import pytest

from lingtrace.cli import main
from lingtrace.errors import ArtifactError
from lingtrace.io.data import to_table, write_data
from lingtrace.report.explain import NotInStudy, explain, format_text

TRAIN = [("t-train-de-1", "de", "Bayern", 3), ("t-train-ja-1", "ja", "バイエルン州", 3),
         ("t-train-ja-2", "ja", "大阪府", 2)]  # fmt: skip
TEST = [("t-test-de-1", "de", "Sachsen", 3), ("t-test-ja-1", "ja", "ザクセン州", 3), ("t-test-ja-2", "ja", "京都府", 2)]


def rows(examples):
    return to_table([{"uid": u, "item_id": u, "lang": lang, "text_a": text, "text_b": None, "label": label}
                     for u, lang, text, label in examples])  # fmt: skip


def topk_rows(test_uid, test_lang, variant, scored):
    """topk rows of one test example: scored is [(direction, train_uid, train_lang, score)] in rank order."""
    out, ranks = [], {}
    for direction, train_uid, train_lang, score in scored:
        ranks[direction] = ranks.get(direction, 0) + 1
        out.append({"test_uid": test_uid, "test_lang": test_lang, "checkpoint": "all", "variant": variant,
                    "direction": direction, "rank": ranks[direction], "train_uid": train_uid,
                    "train_lang": train_lang, "score": score})  # fmt: skip
    return out


@pytest.fixture
def study(tmp_path):
    """A results folder with one task 't': data, predictions and the joint run's tables (seed 3 only)."""
    data = tmp_path / "t/data"
    data.mkdir(parents=True)
    write_data(rows(TRAIN), data / "train.parquet")
    write_data(rows(TEST), data / "test.parquet")
    (tmp_path / "t/metrics").mkdir()
    predictions = [{"run": "joint", "seed": 3, "checkpoint": 2, "uid": u, "lang": lang, "label": label, "pred": 2,
                    "loss": 0.5} for u, lang, _, label in TEST]  # fmt: skip
    pl.DataFrame(predictions).write_parquet(tmp_path / "t/metrics/predictions.parquet")
    influence = tmp_path / "t/joint/seed-3/influence"
    influence.mkdir(parents=True)
    topk = []
    for variant, sign in (("cosine", 1.0), ("dot", 10.0)):
        topk += topk_rows("t-test-ja-1", "ja", variant, [
            ("proponent", "t-train-ja-1", "ja", 0.9 * sign), ("proponent", "t-train-de-1", "de", 0.4 * sign),
            ("opponent", "t-train-ja-2", "ja", -0.3 * sign), ("opponent", "t-train-de-1", "de", -0.2 * sign),
        ])  # fmt: skip
        topk += topk_rows("t-test-de-1", "de", variant, [("proponent", "t-train-de-1", "de", 0.7 * sign)])
    pl.DataFrame(topk).write_parquet(influence / "topk.parquet")
    sums = [{"test_uid": "t-test-ja-1", "test_lang": "ja", "checkpoint": "all", "variant": "cosine",
             "train_lang": lang, "score_sum": total, "n_train": n}
            for lang, total, n in (("ja", 0.6, 2), ("de", 0.4, 1))]  # fmt: skip
    pl.DataFrame(sums).write_parquet(influence / "lang_scores.parquet")
    return tmp_path


def test_explains_an_example_in_rank_order_with_texts_and_labels(study):
    e = explain(study, "t", uid="t-test-ja-1", k=5)
    assert (e["run"], e["seed"], e["variant"], e["checkpoint"]) == ("joint", 3, "cosine", "all")
    assert e["example"] == {"uid": "t-test-ja-1", "lang": "ja", "label": 3, "text_a": "ザクセン州", "text_b": None,
                            "pred": 2, "loss": 0.5, "pred_checkpoint": 2}  # fmt: skip
    assert [(p["rank"], p["uid"], p["lang"], p["label"], p["text_a"], p["score"]) for p in e["proponents"]] == [
        (1, "t-train-ja-1", "ja", 3, "バイエルン州", 0.9), (2, "t-train-de-1", "de", 3, "Bayern", 0.4)]  # fmt: skip
    assert [p["uid"] for p in e["opponents"]] == ["t-train-ja-2", "t-train-de-1"]
    assert e["languages"] == [{"lang": "de", "n_train": 1, "score_sum": 0.4, "score_mean": 0.4},
                              {"lang": "ja", "n_train": 2, "score_sum": 0.6, "score_mean": 0.3}]  # fmt: skip
    text = format_text(e)
    assert "ザクセン州" in text and "label 3, predicted 2" in text and text.index("バイエルン州") < text.index("Bayern")


def test_k_variant_and_selection_by_language_and_index(study):
    e = explain(study, "t", lang="ja", index=0, k=1, variant="dot")
    assert e["example"]["uid"] == "t-test-ja-1"  # t-test-ja-2 was not scored
    assert [p["score"] for p in e["proponents"]] == [9.0] and len(e["opponents"]) == 1
    assert explain(study, "t", uid="t-test-ja-1")["k"] == 5  # report.show_k


def test_errors_name_the_file_uid_or_choice(study, tmp_path):
    with pytest.raises(NotInStudy, match="uid 't-test-xx' is not in .*test.parquet"):
        explain(study, "t", uid="t-test-xx")
    with pytest.raises(NotInStudy, match="'t-test-ja-2' was not scored"):
        explain(study, "t", uid="t-test-ja-2")
    with pytest.raises(NotInStudy, match="language 'ja' has 1 scored test examples"):
        explain(study, "t", lang="ja", index=1)
    with pytest.raises(NotInStudy, match="checkpoint '4' is not in .*topk.parquet"):
        explain(study, "t", uid="t-test-ja-1", checkpoint="4")
    with pytest.raises(ArtifactError, match="without-de/seed-\\*/influence/topk.parquet: not found"):
        explain(study, "t", uid="t-test-ja-1", run="without-de")
    (study / "t/metrics/predictions.parquet").unlink()
    with pytest.raises(ArtifactError, match="predictions.parquet: file not found"):
        explain(study, "t", uid="t-test-ja-1")


def test_cli_prints_json_and_reports_errors(study, capsys):
    assert main(["explain", "--results", str(study), "--task", "t", "--uid", "t-test-de-1", "--json"]) == 0
    out = json.loads(capsys.readouterr().out)
    assert out["example"]["text_a"] == "Sachsen" and out["proponents"][0]["uid"] == "t-train-de-1"
    assert main(["explain", "--results", str(study), "--task", "t", "--uid", "nope"]) == 2
    assert "uid 'nope' is not in" in capsys.readouterr().err
    assert main(["explain", "--results", str(study), "--task", "t", "--lang", "ja"]) == 2

"""Evaluation: per-language accuracy and loss of checkpoints, checked against a manual count."""

import pyarrow.compute as pc
import pytest
import torch

from lingtrace.finetuning.evaluate import evaluate_checkpoints, per_language
from lingtrace.io.checkpoints import load_checkpoint


def test_metrics_match_a_manual_count(tiny_checkpoints, tiny_data):
    _, test = tiny_data
    table, predictions = evaluate_checkpoints([("joint", 0, tiny_checkpoints[-1])], test, max_length=48, batch_size=5)
    rows = {r["lang"]: r for r in table.to_pylist()}
    model, tok, _ = load_checkpoint(tiny_checkpoints[-1])
    for lang in ("ala", "bea", "alb"):
        part = test.filter(pc.equal(test["lang"], lang))
        losses, correct = [], 0
        for row in part.to_pylist():
            enc = tok(row["text_a"], row["text_b"], return_tensors="pt")
            with torch.no_grad():
                logits = model(**enc).logits[0]
            losses.append(torch.nn.functional.cross_entropy(logits[None], torch.tensor([row["label"]])).item())
            correct += int(logits.argmax().item() == row["label"])
        assert rows[lang]["n"] == part.num_rows
        assert rows[lang]["accuracy"] == pytest.approx(correct / part.num_rows)
        assert rows[lang]["loss"] == pytest.approx(sum(losses) / len(losses), rel=1e-5)
    assert {r["checkpoint"] for r in table.to_pylist()} == {2}
    assert predictions.num_rows == test.num_rows
    by_lang = {}
    for row in predictions.to_pylist():
        by_lang.setdefault(row["lang"], []).append(row["loss"])
    assert sum(by_lang["ala"]) / len(by_lang["ala"]) == pytest.approx(rows["ala"]["loss"])


def test_per_language_groups():
    class Data:
        langs = ["a", "a", "b"]
        labels = [1, 0, 1]

    rows = per_language(Data, [1.0, 3.0, 0.5], [1, 1, 1])
    assert rows == [
        {"lang": "a", "n": 2, "accuracy": 0.5, "loss": 2.0},
        {"lang": "b", "n": 1, "accuracy": 1.0, "loss": 0.5},
    ]

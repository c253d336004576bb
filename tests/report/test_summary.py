"""summary.json and summary.md: a task's entry from hand-made metrics (final checkpoint, mean over seeds,
the chance and shortcut controls, seed convergence, merged findings), and the wording of summary.md,
which states a finding only when its control holds and otherwise gives the control's numbers."""

import json

import polars as pl
import pytest

from lingtrace.report.summary import learning_sentences, render_markdown, write_summary, write_task_summary


def metrics_table() -> pl.DataFrame:
    rows = []
    final = {  # (run, seed) -> {lang: accuracy at the last checkpoint (2)}
        ("joint", 0): {"ala": 0.8, "bea": 0.7, "alb": 0.5},
        ("joint", 1): {"ala": 0.9, "bea": 0.6, "alb": 0.5},
        ("without-bea", 0): {"ala": 0.8, "alb": 0.4},
        ("without-bea", 1): {"ala": 0.78, "alb": 0.4},
        ("without-bea", 2): {"ala": 0.5, "alb": 0.4},  # 0.28 from the median 0.78: not converged
    }
    for (run, seed), accs in final.items():
        for lang, acc in accs.items():
            rows.append((run, seed, 1, lang, 6, 0.1, 2.0))  # an early checkpoint, never reported
            rows.append((run, seed, 2, lang, 6, acc, 1.0 - acc))
    return pl.DataFrame(rows, schema=["run", "seed", "checkpoint", "lang", "n", "accuracy", "loss"], orient="row")


def task_entry(tmp_path, task, shortcut: dict | None, extras=()) -> dict:
    metrics = tmp_path / "accuracy.parquet"
    metrics_table().write_parquet(metrics)
    shortcut_path = None
    if shortcut is not None:
        shortcut_path = tmp_path / "shortcut.parquet"
        pl.DataFrame({"lang": list(shortcut), "accuracy": list(shortcut.values())}).write_parquet(shortcut_path)
    pieces = []
    for i, piece in enumerate(extras):
        pieces.append(tmp_path / f"piece-{i}.json")
        pieces[-1].write_text(json.dumps(piece))
    out = tmp_path / "nli" / "summary.json"
    write_task_summary(metrics, {"task": task, "analysis": {"seed_tolerance": 0.05}}, out, extras=pieces,
                       shortcut_path=shortcut_path)  # fmt: skip
    return json.loads(out.read_text())


def test_task_entry_averages_the_last_checkpoint_over_seeds_and_flags_seeds(tmp_path, task_cfg):
    entry = task_entry(tmp_path, task_cfg, None)
    assert entry["chance"] == pytest.approx(1 / 3)
    assert entry["accuracy"]["joint"] == pytest.approx({"ala": 0.85, "alb": 0.5, "bea": 0.65})
    assert entry["accuracy"]["without-bea"] == pytest.approx({"ala": 0.69333333, "alb": 0.4})
    assert entry["train_langs"] == ["ala", "bea"] and entry["zero_shot_langs"] == ["alb"]
    assert entry["joint_min_train_accuracy"] == pytest.approx(0.65)  # the zero-shot alb (0.5) does not count
    assert entry["learns_task"] is True  # 0.65 >= 1/3 + 0.2
    conv = entry["convergence"]
    assert conv["not_converged"] == ["without-bea/seed-2"]
    assert conv["seeds"] == {"joint": {"0": True, "1": True}, "without-bea": {"0": True, "1": True, "2": False}}
    assert conv["spread"]["joint"] == pytest.approx({"ala": 0.1, "bea": 0.1})
    assert "baselines" not in entry and "needs_content" not in entry and entry["findings"] == []


def test_shortcut_control_and_extras(tmp_path, task_cfg):
    extras = [{"findings": ["first"], "lds": {"mean": 0.3}}, {"findings": ["second"], "planted": {"hits": 2}}]
    entry = task_entry(tmp_path, task_cfg, {"all": 0.45, "ala": 0.5, "bea": 0.6}, extras)
    base = entry["baselines"]
    assert base["shortcut_accuracy"] == 0.45 and base["shortcut_accuracy_by_lang"] == {"ala": 0.5, "bea": 0.6}
    assert base["joint_min_margin_over_shortcut"] == pytest.approx(0.05)  # bea: 0.65 - 0.6 (ala: 0.35)
    assert entry["needs_content"] is False
    assert entry["findings"] == ["first", "second"]
    assert entry["lds"] == {"mean": 0.3} and entry["planted"] == {"hits": 2}
    assert task_entry(tmp_path, task_cfg, {"all": 0.3, "ala": 0.5, "bea": 0.5})["needs_content"] is True  # margin 0.15


MARGINS = {"over_chance": 0.2, "over_shortcut": 0.1}


def entry(**changes) -> dict:
    base = {
        "chance": 0.5,
        "margins": MARGINS,
        "joint_min_train_accuracy": 0.9,
        "accuracy": {"joint": {"bea": 0.9, "ala": 0.95, "alb": 0.7}, "mono-ala": {"ala": 0.8}},
        "findings": [],
    }
    return base | changes


def shortcut(margin, needs_content) -> dict:
    return {"baselines": {"shortcut_accuracy": 0.6, "shortcut_accuracy_by_lang": {"ala": 0.62, "bea": 0.58},
                          "joint_min_margin_over_shortcut": margin}, "needs_content": needs_content, "learns_task": True, "margins": MARGINS}  # fmt: skip


def test_content_is_claimed_only_when_the_shortcut_control_holds():
    held = render_markdown({"nli": entry(**shortcut(0.2, True))})
    assert ("Joint fine-tuning reaches 90.0% test accuracy or more on every fine-tuning language (chance 50.0%; "
            "a classifier on function and marker words and the texts' word overlap alone: 60.0%), at least 20.0 points above that shortcut on "
            "every language: the task is learned from content.") in held  # fmt: skip
    failed = render_markdown({"nli": entry(**shortcut(0.04, False))})
    assert "learned from content" not in failed
    assert "60.0%), 4.0 points above that shortcut on some language (less than 10): accuracy there may come from markers" in failed


def test_without_a_shortcut_only_the_numbers_are_stated():
    md = render_markdown({"nli": entry()})
    assert "on every fine-tuning language (chance 50.0%)." in md
    assert "content" not in md and "shortcut" not in md


def test_convergence_sentence_names_the_seeds_that_did_not_converge():
    bad = {"tolerance": 0.05, "not_converged": ["joint/seed-2", "mono-ala/seed-0"], "spread": {"joint": {"ala": 0.3}}}
    md = render_markdown({"nli": entry(convergence=bad)})
    assert ("Not converged (a fine-tuning language further than 5 points from the median over seeds; marked, "
            "still averaged in the table): joint/seed-2, mono-ala/seed-0.") in md  # fmt: skip
    assert "Every seed" not in md
    good = {"tolerance": 0.05, "not_converged": [], "spread": {"joint": {"ala": 0.01, "bea": 0.03}, "x": {"ala": 0.02}}}
    md = render_markdown({"nli": entry(convergence=good)})
    assert ("Every seed of every run converged: final accuracy within 5 points of the median over seeds "
            "(largest spread 3.0 points).") in md  # fmt: skip
    assert "Not converged" not in md


def test_table_has_the_joint_languages_sorted_and_findings_as_bullets():
    md = render_markdown({"nli": entry(findings=["a finding", "another"], **shortcut(0.2, True))})
    lines = md.splitlines()
    assert lines[:3] == ["# lingtrace study summary", "", "## nli"]
    header = lines.index("| run | ala | alb | bea |")
    assert lines[header + 1 : header + 5] == [
        "|---|---|---|---|",
        "| joint | 95.0% | 70.0% | 90.0% |",
        "| mono-ala | 80.0% | n/a | n/a |",
        "| *shortcut* | 62.0% | n/a | 58.0% |",
    ]
    assert "- a finding" in lines and "- another" in lines


def test_write_summary_keys_tasks_by_their_folder(tmp_path):
    paths = []
    for name, acc in (("nli", 0.9), ("pos", 0.7)):
        (tmp_path / name).mkdir()
        paths.append(tmp_path / name / "summary.json")
        paths[-1].write_text(json.dumps(entry(joint_min_train_accuracy=acc)))
    write_summary([str(p) for p in paths], tmp_path / "summary.json", tmp_path / "summary.md")
    tasks = json.loads((tmp_path / "summary.json").read_text())["tasks"]
    assert list(tasks) == ["nli", "pos"] and tasks["pos"]["joint_min_train_accuracy"] == 0.7
    md = (tmp_path / "summary.md").read_text()
    assert md.index("## nli") < md.index("90.0% test accuracy") < md.index("## pos") < md.index("70.0% test accuracy")


def test_a_task_not_learned_is_said_so_before_any_shortcut_comparison():
    entry = {"joint_min_train_accuracy": 0.40, "chance": 1 / 3, "learns_task": False, "needs_content": True, "margins": MARGINS,
             "baselines": {"shortcut_accuracy": 0.2, "joint_min_margin_over_shortcut": 0.2}}  # fmt: skip
    (sentence,) = learning_sentences(entry)
    assert "not learned well enough" in sentence and "learned from content" not in sentence


def test_a_margin_below_the_shortcut_reads_below():
    entry = {"joint_min_train_accuracy": 0.80, "chance": 0.5, "learns_task": True, "needs_content": False, "margins": MARGINS,
             "baselines": {"shortcut_accuracy": 0.85, "joint_min_margin_over_shortcut": -0.05}}  # fmt: skip
    (sentence,) = learning_sentences(entry)
    assert "5.0 points below that shortcut" in sentence


def test_findings_of_a_task_that_fails_its_controls_are_marked_as_measurements():
    failing = render_markdown({"nli": entry(**shortcut(0.04, False), findings=["TracIn says x."])})
    assert "measurements of a model that fails the controls above" in failing
    passing = render_markdown({"nli": entry(**shortcut(0.2, True), findings=["TracIn says x."])})
    assert "fails the controls" not in passing and "- TracIn says x." in passing

"""Cross-key config checks name the key at fault; derived lists follow the config."""

import copy

import pytest
import yaml

from lingtrace import study
from lingtrace.errors import ConfigError

ROOT = __import__("pathlib").Path(__file__).resolve().parents[1]


@pytest.fixture
def cfg():
    from snakemake.utils import validate

    raw = yaml.safe_load((ROOT / "config.yaml").read_text())
    validate(raw, str(ROOT / "workflow/schemas/config.schema.yaml"))
    return raw


def test_default_config_passes(cfg):
    study.check_study(cfg)


def test_run_names(cfg):
    cfg["runs"]["mono"] = ["gaa"]
    task = study.task_list(cfg)[0]
    names = study.run_names(cfg, task)
    assert names[0] == "joint"
    assert "without-ala" in names and "mono-gaa" in names and "boost-ala" in names
    assert len(names) == len(set(names))


@pytest.mark.parametrize(
    "edit, message",
    [
        (lambda c: c["runs"].update(without=["xx"]), r"runs.without: \['xx'\] are not fine-tuning languages"),
        (lambda c: c["tasks"][0].update(train_langs=["ala", "zzz"]), r"tasks\[0\] \(paraphrase\).train_langs.*zzz"),
        (lambda c: c["tasks"][1].update(test_langs=["ala", "bec", "alc", "qqq"]), r"test_langs: \['qqq'\] are neither"),
        (lambda c: c.setdefault("influence", {}).update(checkpoints=[2, 9]), r"influence.checkpoints: epoch 9"),
        (lambda c: c["influence"].update(top_k=5000), r"influence.top_k: 5000 is larger than the training pool"),
        (lambda c: c["influence"].update(runs=["joint", "mono-xx"]), r"influence.runs: 'mono-xx' is not a run"),
        (lambda c: c["tasks"][2].pop("shape"), r"tasks\[2\] \(review\).shape"),
        (lambda c: c["tasks"].append(copy.deepcopy(c["tasks"][0])), r"task name\(s\) \['paraphrase'\] used more"),
        (lambda c: c["tasks"][0].update(zero_shot_lang=["alb"]), r"tasks.0: .*'zero_shot_lang' was unexpected"),
        (lambda c: c["tasks"][1].update(trian_sizes={"ala": 10}), r"tasks.1: .*'trian_sizes' was unexpected"),
        (lambda c: c["influence"].update(variants=["dot"]),
         r"analysis.variant: 'cosine' is not scored: influence.variants is \['dot'\]"),
        (lambda c: (c["influence"].update(variants=["cosine"]), c["removal"].update(variant="dot")),
         r"removal.variant: 'dot' is not scored: influence.variants is \['cosine'\]"),
        (lambda c: c.setdefault("gradients", {}).update(layers="roberta\\.(encoder"),
         r"gradients.layers: 'roberta\\\\.\(encoder' is not a valid regular expression"),
        (lambda c: c.setdefault("gradients", {}).setdefault("shards", {}).update(test=5000),
         r"gradients.shards.test: 5000 shards for only \d+ scored test examples of task paraphrase"),
    ],
)
def test_contradictions_are_named(cfg, edit, message):
    edit(cfg)
    with pytest.raises(ConfigError, match=message):
        study.check_study(cfg)


def test_schema_names_bad_keys(cfg):
    from snakemake.exceptions import WorkflowError
    from snakemake.utils import validate

    cfg["finetune"]["epochs"] = -1
    with pytest.raises(WorkflowError, match="epochs"):
        validate(cfg, str(ROOT / "workflow/schemas/config.schema.yaml"))


def test_canonical_is_order_independent():
    assert study.canonical({"b": 1, "a": [1, 2]}) == study.canonical({"a": [1, 2], "b": 1})


def test_removal_variant_is_free_without_removal_runs(cfg):
    cfg["runs"]["removal"] = False
    cfg["influence"]["variants"], cfg["removal"]["variant"] = ["cosine"], "dot"
    study.check_study(cfg)


def test_shards_test_fits_the_scored_test_examples(cfg):
    task = study.task_list(cfg)[0]
    cfg.setdefault("gradients", {})["shards"] = {"test": study.scored_test_examples(cfg, task)}
    study.check_study(cfg)
    cfg["influence"]["test_per_lang"] = 1
    assert study.scored_test_examples(cfg, task) == len(task.test_langs)


def test_a_local_model_folder_of_pickled_weights_is_refused_before_any_job(cfg, tmp_path):
    (tmp_path / "config.json").write_text("{}")
    (tmp_path / "pytorch_model.bin").write_bytes(b"not loaded")
    cfg["model"] = {"name_or_path": str(tmp_path)}
    with pytest.raises(ConfigError, match=r"model.name_or_path: .* has no model.safetensors .*model.allow_pickle: true"):
        study.check_study(cfg)
    cfg["model"]["allow_pickle"] = True
    study.check_study(cfg)

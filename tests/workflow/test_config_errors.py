"""Config mistakes stop the workflow before any job runs, naming the key."""

import pytest
import yaml

from conftest import copy_workflow, snakemake

NLI = {"name": "t", "source": "synthetic", "shape": "nli", "train_langs": ["ala"]}


@pytest.mark.parametrize(
    "override, message",
    [
        ({"runs": {"without": ["nope"]}}, "runs.without: ['nope'] are not fine-tuning languages"),
        ({"finetune": {"epochs": -2}}, "['finetune']['epochs']"),
        ({"tasks": [{"name": "t", "train_langs": ["ala"]}]}, "source"),
        ({"tasks": [{"name": "t", "source": "synthetic", "shape": "nli", "train_langs": ["zzz"]}]}, "zzz"),
        ({"tasks": [{**NLI, "zero_shot_lang": ["alb"]}]}, "'zero_shot_lang' was unexpected"),
        ({"tasks": [{**NLI, "trian_sizes": {"ala": 10}}]}, "'trian_sizes' was unexpected"),
        ({"influence": {"variants": ["dot"]}}, "analysis.variant: 'cosine' is not scored"),
    ],
)
def test_bad_config_fails_before_any_job(tmp_path, override, message):
    workdir = copy_workflow(tmp_path)
    (workdir / "bad.yaml").write_text(yaml.safe_dump(override))
    proc = snakemake(workdir, "-n", "--cores", "1", "--configfile", "bad.yaml", check=False)
    assert proc.returncode != 0
    assert message in proc.stdout + proc.stderr
    assert not (workdir / "results").exists()

"""Loading classifiers: local directories work offline; an uncached hub name says what to do."""

import pytest

from lingtrace.errors import ConfigError
from lingtrace.model.build import load_classifier


def test_local_directory_loads_offline(monkeypatch, tiny_model_dir):
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    model = load_classifier(tiny_model_dir, num_labels=4)
    assert model.config.num_labels == 4 and model.classifier.out_proj.out_features == 4


def test_unreachable_hub_name_says_how_to_provide_the_model(monkeypatch):
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    with pytest.raises(ConfigError, match=r"model.name_or_path: could not load 'no-org/no-model'.*local-dir"):
        load_classifier("no-org/no-model", num_labels=2)

"""Loading the starting model: local directories work offline; an uncached hub name says what to do;
weights load only from safetensors unless model.allow_pickle says otherwise."""

import pickle
import shutil

import pytest

from lingtrace.errors import ConfigError
from lingtrace.model.build import load_classifier, load_starting_tokenizer


def test_local_directory_loads_offline(monkeypatch, tiny_model_dir):
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    model = load_classifier(tiny_model_dir, num_labels=4)
    assert model.config.num_labels == 4 and model.classifier.out_proj.out_features == 4


def test_unreachable_hub_name_says_how_to_provide_the_model(monkeypatch):
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    with pytest.raises(ConfigError, match=r"model.name_or_path: could not load 'no-org/no-model'.*local-dir"):
        load_classifier("no-org/no-model", num_labels=2)


def test_unreachable_hub_name_of_the_tokenizer_says_how_to_provide_it(monkeypatch):
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    with pytest.raises(ConfigError, match=r"model.name_or_path: could not load the tokenizer of 'no-org/no-model' "
                                          r"\(OSError: .*\)\. .*huggingface-cli download no-org/no-model"):  # fmt: skip
        load_starting_tokenizer("no-org/no-model")


def test_fine_tuning_from_an_uncached_hub_name_stops_before_training(monkeypatch, tmp_path, tiny_data):
    from lingtrace.finetuning.trainer import finetune

    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    with pytest.raises(ConfigError, match=r"model.name_or_path: could not load the tokenizer of 'no-org/no-model'"):
        finetune(tiny_data[0], "no-org/no-model", [tmp_path / "epoch-1"], {"epochs": 1}, num_labels=3, seed=0)
    assert not list(tmp_path.iterdir())


class Plant:
    """A pickle that, once unpickled by anything but a weights-only unpickler, writes a file."""

    def __init__(self, marker):
        self.marker = str(marker)

    def __reduce__(self):
        return (open, (self.marker, "w"))


def pickled_model(folder, tiny_model_dir, weights: bytes | None = None):
    """A copy of the tiny model with pytorch_model.bin instead of model.safetensors (``weights``: its bytes)."""
    import torch
    from transformers import AutoModelForSequenceClassification

    shutil.copytree(tiny_model_dir, folder)
    (folder / "model.safetensors").unlink()
    if weights is None:
        state = AutoModelForSequenceClassification.from_pretrained(tiny_model_dir, num_labels=2).state_dict()
        torch.save(state, folder / "pytorch_model.bin")
    else:
        (folder / "pytorch_model.bin").write_bytes(weights)
    return folder


def test_a_pickled_model_is_refused_unless_allowed(tmp_path, tiny_model_dir):
    folder = pickled_model(tmp_path / "bin-only", tiny_model_dir)
    with pytest.raises(ConfigError, match=r"model.name_or_path: .*bin-only has no model.safetensors .*pytorch_model.bin"
                                          r".*save_pretrained\(DIR\).*model.allow_pickle: true"):  # fmt: skip
        load_classifier(folder, num_labels=2)
    assert load_classifier(folder, num_labels=2, allow_pickle=True).config.num_labels == 2


def test_a_crafted_pickle_never_reaches_the_unpickler(tmp_path, tiny_model_dir, monkeypatch):
    import torch

    marker = tmp_path / "planted"
    folder = pickled_model(tmp_path / "crafted", tiny_model_dir, weights=pickle.dumps(Plant(marker), protocol=2))

    def no_unpickling(*args, **kwargs):
        raise AssertionError("torch.load was called")

    with monkeypatch.context() as patch:
        patch.setattr(torch, "load", no_unpickling)
        with pytest.raises(ConfigError, match=r"has no model.safetensors"):
            load_classifier(folder, num_labels=2)
    # allowed: torch's weights-only unpickler refuses it, and the refusal is named
    with pytest.raises(ConfigError, match=r"model.name_or_path: could not load .*crafted.* \(UnpicklingError"):
        load_classifier(folder, num_labels=2, allow_pickle=True)
    assert not marker.exists()

"""Outside oracle: lingtrace's TracIn equals Captum's TracInCP on the same tiny XLM-R checkpoints."""

import numpy as np
import pytest
import torch
from safetensors.torch import load_file

from lingtrace.batching import collate, encode
from lingtrace.tracin.api import dump_checkpoints, tracin_scores
from lingtrace.io.checkpoints import load_checkpoint, read_trace

captum_influence = pytest.importorskip("captum.influence")

LAYERS = ["classifier.dense", "classifier.out_proj", "roberta.encoder.layer.1.output.dense"]


class Logits(torch.nn.Module):
    """Captum calls model(*inputs) and wants a tensor."""

    def __init__(self, model):
        super().__init__()
        self.model = model

    def forward(self, input_ids, attention_mask):
        return self.model(input_ids=input_ids, attention_mask=attention_mask).logits


def padded(table, tokenizer):
    data = encode(table, tokenizer, 48)
    batch = collate(data, range(len(data)), tokenizer.pad_token_id)
    return data.uids, torch.utils.data.TensorDataset(batch["input_ids"], batch["attention_mask"], batch["labels"])


def test_scores_equal_captum_tracincp(tmp_path, tiny_checkpoints, tiny_data):
    train, test = tiny_data
    train, test = train.sort_by("uid").slice(0, 30), test.sort_by("uid").slice(0, 8)
    pattern = "^(" + "|".join(name.replace(".", r"\.") for name in LAYERS) + ")$"
    train_paths, test_paths = dump_checkpoints(
        tiny_checkpoints, train, test, tmp_path / "grads",
        gradients={"layers": pattern, "projection": "none", "batch_size": 7}, max_length=48,
        train_shards=2,
    )  # fmt: skip
    ours = tracin_scores(train_paths, test_paths, "dot")

    model, tokenizer, _ = load_checkpoint(tiny_checkpoints[0])
    wrapper = Logits(model).eval()
    train_uids, train_set = padded(train, tokenizer)
    test_uids, test_set = padded(test, tokenizer)

    def load(net, path):
        missing, unexpected = net.model.load_state_dict(load_file(f"{path}/model.safetensors"), strict=False)
        assert not unexpected and all("position_ids" in k for k in missing), (missing, unexpected)
        net.eval()
        return read_trace(path)["mean_lr"]

    tracin = captum_influence.TracInCP(
        wrapper, train_set, [str(p) for p in tiny_checkpoints], checkpoints_load_func=load,
        layers=[f"model.{name}" for name in LAYERS], loss_fn=torch.nn.CrossEntropyLoss(reduction="none"),
        batch_size=10, sample_wise_grads_per_batch=False,
    )  # fmt: skip
    theirs = tracin.influence(test_set.tensors, show_progress=False).detach().numpy()

    assert ours.train_uids == train_uids and ours.test_uids == test_uids
    scale = np.abs(theirs).max()
    assert scale > 0
    np.testing.assert_allclose(ours.scores, theirs, rtol=1e-4, atol=1e-4 * scale)

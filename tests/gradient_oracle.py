"""The per-example gradient oracle the hook gradients are checked against (tests/tracin)."""

import numpy as np
import torch


def per_example_backward(model, encoded, layers) -> np.ndarray:
    """The definition: one loss.backward() per unpadded example; per layer (out, in + bias column) for a
    Linear, the transposed weight gradient (dim, vocab) for an Embedding."""
    for p in model.parameters():
        p.requires_grad_(True)
    rows = []
    for ids, label in zip(encoded.input_ids, encoded.labels):
        model.zero_grad(set_to_none=True)
        x = torch.tensor([ids])
        logits = model(input_ids=x, attention_mask=torch.ones_like(x)).logits
        torch.nn.functional.cross_entropy(logits, torch.tensor([label])).backward()
        parts = []
        for module in layers.values():
            weight = module.weight.grad if module.weight.grad is not None else torch.zeros_like(module.weight)
            if isinstance(module, torch.nn.Embedding):
                parts.append(weight.T)
            else:
                parts.append(torch.cat([weight, module.bias.grad[:, None]], dim=1))
        rows.append(torch.cat([p.flatten() for p in parts]).numpy())
    return np.stack(rows)

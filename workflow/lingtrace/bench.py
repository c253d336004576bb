"""``lingtrace bench``: the performance figures, each measured side by side in one process.

- ``grad_ratio_vs_fwdbwd``: per-example gradient dump throughput (logra) over a plain batched
  forward+backward (weight gradients of the same traced layers) of the same model and batch;
- ``grad_speedup_vs_loop``: the dump over one forward+backward per example;
- ``grad_vs_opacus``: exact per-example gradients of the same layers, weights and batch through
  lingtrace and through opacus's ``GradSampleModule``, on the tiny model (every Linear layer) and on the
  XLM-R-base shape (a few Linear layers of the last two layers and the head); the smaller of the two,
  each shape's figure in ``grad_vs_opacus_by_shape``;
- ``score_fraction_of_matmul``: the scoring kernel's GFLOP/s over torch matmul's for the same shapes
  (k=1024), with the end-to-end shard figure (Parquet read, scoring, Parquet write) beside it;
- ``shard_write_vs_copy``, ``shard_read_vs_copy``: writing and reading a gradient shard over copying a
  file of the same bytes (the GB/s of all three in ``details``); the write and the copy each remove
  their previous file first and make a fresh one;
- ``captum_speedup``, ``captum_max_rel_err``: one exact TracIn job (tiny default model, 2,000 train and
  200 test examples, 3 checkpoints, batch 32, every Linear layer) through lingtrace (gradient dump,
  shard files, scoring) and through Captum's TracInCP; the head-only job as a second row, with
  TracInCPFast beside it. The error is max |ours - Captum| over the largest |Captum| score.
  ``details`` also times lingtrace's arithmetic alone on each job (the same gradients and matmul, no
  shard files): ``captum_in_memory_speedup`` is the most that faster files could give.

Each pair alternates over repetitions and keeps each side's best time, since load from other
processes only ever slows a run down. ``--quick`` shrinks every size (for CI smoke runs). Captum and
opacus come with the ``bench`` extra (``pip install lingtrace[bench]``); without them their figures are
None.
"""

from __future__ import annotations

import copy
import logging
import os
import platform
import shutil
import tempfile
import time
from collections.abc import Callable, Sequence
from pathlib import Path

import numpy as np
import torch

from lingtrace import __version__

log = logging.getLogger(__name__)

BASE = {"hidden_size": 768, "num_hidden_layers": 12, "num_attention_heads": 12, "intermediate_size": 3072}
TINY = {"hidden_size": 64, "num_hidden_layers": 2, "num_attention_heads": 4, "intermediate_size": 128}
ALL_LINEAR = r"^(roberta\.encoder\..*|classifier\..*)$"  # every nn.Linear of an XLM-R classifier
HEAD = r"^classifier\.(dense|out_proj)$"
# XLM-R-base shape, opacus race: a few Linear layers of the last two layers plus the head (6.5 M weights)
LAST_LAYERS = (r"^(roberta\.encoder\.layer\.(10|11)\.attention\.output\.dense"
               r"|roberta\.encoder\.layer\.11\.(intermediate|output)\.dense|classifier\.(dense|out_proj))$")  # fmt: skip


def best_times(cases: dict[str, Callable[[], object]], reps: int) -> dict[str, float]:
    """Best wall time of each case, repetitions interleaved, after one warm-up call each."""
    for fn in cases.values():
        fn()
    times: dict[str, list[float]] = {name: [] for name in cases}
    for _ in range(reps):
        for name, fn in cases.items():
            started = time.perf_counter()
            fn()
            times[name].append(time.perf_counter() - started)
    return {name: min(ts) for name, ts in times.items()}


def optional(module: str):
    """The module, or None when the ``bench`` extra is not installed."""
    try:
        return __import__(module)
    except ImportError:
        log.warning("%s is not installed (pip install 'lingtrace[bench]'): its figures are left out", module)
        return None


# --- per-example gradients ----------------------------------------------------------------------


def random_batch(arch: dict, batch: int, tokens: int, vocab: int):
    """(model, encoded, ids, mask, labels): a random XLM-R-shaped 3-way classifier and one batch (torch
    seeded with 0: the same weights and batch every time)."""
    from transformers import XLMRobertaConfig, XLMRobertaForSequenceClassification

    from lingtrace.batching import Encoded

    torch.manual_seed(0)
    config = XLMRobertaConfig(vocab_size=vocab, max_position_embeddings=tokens + 2, num_labels=3, **arch)
    model = XLMRobertaForSequenceClassification(config).eval()
    ids = torch.randint(5, vocab, (batch, tokens))
    ids[:, 0], ids[:, -1] = 0, 2
    mask = torch.ones_like(ids)
    labels = torch.randint(0, 3, (batch,))
    encoded = Encoded([f"u{i}" for i in range(batch)], ["x"] * batch, [str(i) for i in range(batch)],
                      labels.tolist(), ids.tolist())  # fmt: skip
    return model, encoded, ids, mask, labels


def trace_only(model, traced) -> None:
    for p in model.parameters():
        p.requires_grad_(False)
    for p in traced:
        p.requires_grad_(True)


def bench_gradients(arch: dict, batch: int = 16, tokens: int = 64, vocab: int = 30000, dim: int = 16, reps: int = 3) -> dict:
    """Dump (logra) vs plain forward+backward vs a per-example loop on a random XLM-R-shaped classifier."""
    from lingtrace import settings
    from lingtrace.tracin.gradients import compute_gradients, select_layers
    from lingtrace.tracin.projection import build_projector

    model, encoded, ids, mask, labels = random_batch(arch, batch, tokens, vocab)
    layers = select_layers(model, settings.load("gradients").layers)
    traced = [p for module in layers.values() for p in module.parameters()]
    projector = build_projector("logra", layers, dim, 0)

    def fwdbwd():
        trace_only(model, traced)
        model.zero_grad(set_to_none=True)
        logits = model(input_ids=ids, attention_mask=mask).logits
        torch.nn.functional.cross_entropy(logits, labels, reduction="sum").backward()

    def dump():
        compute_gradients(model, encoded, layers, projector, batch_size=batch)

    def loop():
        trace_only(model, traced)
        for i in range(batch):
            model.zero_grad(set_to_none=True)
            logits = model(input_ids=ids[i : i + 1], attention_mask=mask[i : i + 1]).logits
            torch.nn.functional.cross_entropy(logits, labels[i : i + 1]).backward()
            torch.cat([p.grad.flatten() for p in traced])

    best = best_times({"fwdbwd": fwdbwd, "dump": dump, "loop": loop}, reps)
    rate = {name: batch / seconds for name, seconds in best.items()}
    return {
        "grad_ratio_vs_fwdbwd": rate["dump"] / rate["fwdbwd"],
        "grad_speedup_vs_loop": rate["dump"] / rate["loop"],
        "examples_per_s": rate,
        "sizes": {**arch, "vocab": vocab, "batch": batch, "tokens": tokens, "projection": "logra", "dim": dim,
                  "total_dim": projector.total_dim, "traced_layers": len(layers)},  # fmt: skip
    }


def bench_opacus(arch: dict, pattern: str, batch: int, tokens: int, vocab: int, reps: int = 3) -> dict | None:
    """Exact per-example gradients of the layers matching ``pattern``: lingtrace's (hooks, vectors in a
    (batch, dim) array with losses, predictions and norms) vs opacus's GradSampleModule (a grad_sample
    per parameter; the traced layers in train mode, as opacus records only there), on a copy of the
    same model with the same weights and batch. A plain forward+backward of the same layers' weight
    gradients runs beside them."""
    opacus = optional("opacus")
    if opacus is None:
        return None
    from opacus import GradSampleModule

    from lingtrace.tracin.gradients import compute_gradients, select_layers
    from lingtrace.tracin.projection import build_projector

    model, encoded, ids, mask, labels = random_batch(arch, batch, tokens, vocab)
    layers = select_layers(model, pattern)
    projector = build_projector("none", layers, None, 0)
    theirs_model = copy.deepcopy(model)
    theirs_layers = select_layers(theirs_model, pattern)
    theirs_traced = [p for module in theirs_layers.values() for p in module.parameters()]
    trace_only(theirs_model, theirs_traced)
    wrapped = GradSampleModule(theirs_model, loss_reduction="sum")
    plain_traced = [p for module in layers.values() for p in module.parameters()]
    results = {}

    def ours():
        results["ours"] = compute_gradients(model, encoded, layers, projector, batch_size=batch).grads

    def theirs():
        theirs_model.eval()
        for module in theirs_layers.values():
            module.train()
        for p in theirs_traced:
            p.grad_sample, p.grad = None, None
        logits = wrapped(input_ids=ids, attention_mask=mask).logits
        torch.nn.functional.cross_entropy(logits, labels, reduction="sum").backward()
        results["opacus"] = [p.grad_sample for p in theirs_traced]

    def fwdbwd():
        trace_only(model, plain_traced)
        model.zero_grad(set_to_none=True)
        logits = model(input_ids=ids, attention_mask=mask).logits
        torch.nn.functional.cross_entropy(logits, labels, reduction="sum").backward()

    best = best_times({"ours": ours, "opacus": theirs, "fwdbwd": fwdbwd}, reps)
    # opacus's weight and bias samples in lingtrace's layout: per layer (out, in + bias column)
    reference = torch.cat([
        torch.cat([m.weight.grad_sample, m.bias.grad_sample[:, :, None]], dim=2).reshape(batch, -1)
        for m in theirs_layers.values()
    ], dim=1).double().numpy()  # fmt: skip
    wrapped._close()
    error = float(np.abs(results["ours"] - reference).max() / np.abs(reference).max())
    rate = {name: batch / seconds for name, seconds in best.items()}
    return {
        "grad_vs_opacus": rate["ours"] / rate["opacus"],
        "opacus_max_rel_err": error,
        "examples_per_s": rate,
        "sizes": {**arch, "vocab": vocab, "batch": batch, "tokens": tokens, "projection": "none",
                  "total_dim": projector.total_dim, "traced_layers": list(layers)},  # fmt: skip
    }


# --- gradient shard files -----------------------------------------------------------------------


def bench_shard_io(n: int = 20000, dim: int = 1024, reps: int = 3) -> dict:
    """Writing and reading one float32 gradient shard (n x dim) against copying a file of the same bytes."""
    from lingtrace.tracin.store import read_grad_shard, row_norms, write_grad_shard

    grads = np.random.default_rng(0).standard_normal((n, dim), dtype=np.float32)
    norms = row_norms(grads)  # the dump computes them batch by batch, before the write
    uids, langs = [f"u{i:07d}" for i in range(n)], [f"l{i % 5}" for i in range(n)]
    zeros = [0] * n
    meta = {"projection": {"kind": "bench", "total_dim": dim}, "layers": {}, "checkpoint": 1, "eta": 1.0,
            "dtype": "float32", "split": "train", "shard": 0, "n_shards": 1}  # fmt: skip
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        shard, copied = folder / "shard.parquet", folder / "copy.parquet"
        write_grad_shard(shard, uids, langs, zeros, zeros, np.zeros(n), grads, meta, norms=norms)
        read = {}

        def write():
            # a fresh file, as the copy makes one and as a dump job writes one (Snakemake removes a
            # job's outputs first): renamed over an existing file, the new one is flushed at the
            # rename (ext4's auto_da_alloc), which neither the copy nor the workflow pays
            shard.unlink()
            write_grad_shard(shard, uids, langs, zeros, zeros, np.zeros(n), grads, meta, norms=norms)

        def read_back():
            read["shard"] = read_grad_shard(shard)
            read["shard"].grads.sum(axis=1)  # touch every value, as scoring does

        def copy_file():
            if copied.exists():
                copied.unlink()  # a fresh file, as the shard write makes one
            shutil.copyfile(shard, copied)

        best = best_times({"copy": copy_file, "write": write, "read": read_back}, reps)
        size = os.path.getsize(shard)
    assert np.array_equal(read["shard"].grads, grads)
    rate = {name: size / seconds / 1e9 for name, seconds in best.items()}
    return {
        "shard_write_vs_copy": rate["write"] / rate["copy"],
        "shard_read_vs_copy": rate["read"] / rate["copy"],
        "gb_per_s": {"shard_write": rate["write"], "shard_read": rate["read"], "file_copy": rate["copy"]},
        "sizes": {"n": n, "dim": dim, "bytes": size, "payload_bytes": grads.nbytes},
    }


# --- scoring --------------------------------------------------------------------------------------


def bench_kernel(n_test=2000, n_train=20000, dim=1024, n_ckpt=3, keep=None, chunk=None,
                 variants: Sequence[str] = ("dot", "cosine"), reps=3) -> dict:  # fmt: skip
    """Scoring kernel GFLOP/s over the same matmuls alone (one bmm per chunk into a reused buffer);
    both are credited 2 * C * N_test * N_train * dim flops. ``keep`` and ``chunk``: top_k and
    chunk_size (None: the ``influence`` settings' defaults)."""
    from lingtrace import settings
    from lingtrace.tracin.kernel import Workspace, prepare_test
    from lingtrace.tracin.topk import top_k_scores

    defaults = settings.load("influence")
    top_k, chunk_size = keep or defaults.top_k, chunk or defaults.chunk_size
    gen = torch.Generator().manual_seed(0)
    test = torch.randn(n_ckpt, n_test, dim, generator=gen)
    train = torch.randn(n_ckpt, n_train, dim, generator=gen)
    side = prepare_test(test, torch.linspace(1.0, 0.1, n_ckpt, dtype=torch.float64))
    workspace = Workspace()

    def matmul():
        for start in range(0, n_train, chunk_size):
            chunk = train[:, start : start + chunk_size]
            out = workspace.get("out", (n_ckpt, n_test, chunk.shape[1]), chunk)
            torch.bmm(side.scaled, chunk.transpose(1, 2), out=out)

    def kernel():
        top_k_scores(side, train, top_k, variants, chunk_size)

    best = best_times({"matmul": matmul, "kernel": kernel}, reps)
    flops = 2.0 * n_ckpt * n_test * n_train * dim
    return {
        "score_fraction_of_matmul": best["matmul"] / best["kernel"],
        "score_gflops": flops / best["kernel"] / 1e9,
        "matmul_gflops": flops / best["matmul"] / 1e9,
        "sizes": {"n_test": n_test, "n_train": n_train, "dim": dim, "checkpoints": n_ckpt, "top_k": top_k,
                  "chunk_size": chunk_size, "variants": list(variants)},  # fmt: skip
    }


def _random_shards(folder: Path, n: int, dim: int, n_ckpt: int, split: str, gen: np.random.Generator) -> dict:
    from lingtrace.tracin.store import write_grad_shard

    paths = {}
    for epoch in range(1, n_ckpt + 1):
        path = folder / f"{split}-{epoch}.parquet"
        fingerprint = {"run": "bench", "seed": 0, "epoch": epoch, "weights_sha256": f"{epoch:064d}"}
        meta = {"projection": {"kind": "bench", "total_dim": dim}, "layers": {}, "checkpoint": epoch,
                "eta": 1.0 / epoch, "fingerprint": fingerprint, "dtype": "float32", "split": split, "shard": 0,
                "n_shards": 1}  # fmt: skip
        uids = [f"{split}{i:06d}" for i in range(n)]
        langs = [f"l{i % 5}" for i in range(n)]
        write_grad_shard(path, uids, langs, [0] * n, [0] * n, np.zeros(n),
                         gen.standard_normal((n, dim), dtype=np.float32), meta)  # fmt: skip
        paths[epoch] = [str(path)]
    return paths


def bench_shard_end_to_end(n_test=2000, n_train=20000, dim=1024, n_ckpt=3, reps=2) -> dict:
    """A whole score_shard job on random shards (Parquet read, scoring, Parquet write) against the
    matmuls alone, for the same shapes (top_k and chunk_size: the ``influence`` settings' defaults)."""
    from lingtrace.tracin.score import score_shard_files

    gen = np.random.default_rng(0)
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        train = {epoch: paths[0] for epoch, paths in _random_shards(folder, n_train, dim, n_ckpt, "train", gen).items()}
        test = _random_shards(folder, n_test, dim, n_ckpt, "test", gen)
        a = torch.randn(n_ckpt, n_test, dim)
        b = torch.randn(n_ckpt, dim, n_train)
        cfg = {"variants": ["dot", "cosine"], "device": "cpu"}

        def job():
            score_shard_files(train, test, cfg, folder / "topk.parquet", folder / "lang.parquet")

        best = best_times({"matmul": lambda: torch.bmm(a, b), "shard": job}, reps)
    return {"shard_fraction_of_matmul": best["matmul"] / best["shard"], "shard_seconds": best["shard"],
            "matmul_seconds": best["matmul"]}  # fmt: skip


# --- against Captum -----------------------------------------------------------------------------


def _captum_job(folder: Path, n_train: int, n_test: int, n_ckpt: int):
    """Tiny default-architecture checkpoints (random weights, one seed each) and babel NLI data."""
    from transformers import XLMRobertaForSequenceClassification

    from lingtrace.data.prepare import load_split
    from lingtrace.data.sources.synthetic import generate_corpus
    from lingtrace.io.atomic import write_json
    from lingtrace.model.build import tiny_config
    from lingtrace.model.tokenizer import train_tokenizer

    langs = ["ala", "alb", "bea", "beb", "gaa"]
    world = {"seed": 7, "corpus_sentences_per_lang": 300, "languages": [
        {"code": "ala", "family": "alpha"}, {"code": "alb", "family": "alpha", "overlap": 0.6},
        {"code": "bea", "family": "beta", "order": "SOV"}, {"code": "beb", "family": "beta", "script": "cyrillic"},
        {"code": "gaa", "family": "gamma", "script": "hangul", "order": "VSO"}]}  # fmt: skip
    task = {"name": "bench", "source": "synthetic", "shape": "nli", "train_langs": langs,
            "train_per_lang": n_train // len(langs), "test_per_lang": n_test // len(langs)}  # fmt: skip
    train, test = load_split(task, "train", world), load_split(task, "test", world)
    tokenizer = train_tokenizer(generate_corpus(world)["text"].to_pylist(), vocab_size=1000)
    checkpoints = []
    for epoch in range(1, n_ckpt + 1):
        torch.manual_seed(epoch)
        config = tiny_config(TINY, tokenizer, 64)
        config.num_labels = 3
        path = folder / f"epoch-{epoch}"
        XLMRobertaForSequenceClassification(config).save_pretrained(path)
        tokenizer.save_pretrained(path)
        write_json({"epoch": epoch, "mean_lr": 1e-3 / epoch, "n_steps": 1, "seed": 0}, path / "trace.json")
        checkpoints.append(path)
    return checkpoints, train, test, tokenizer


def bench_captum(n_train=2000, n_test=200, n_ckpt=3, batch=32, reps=1, layers: str = "all", fast: bool = False) -> dict | None:
    """One exact TracIn job through lingtrace's Python API (dump_checkpoints: gradient shards on disk;
    tracin_scores: the dense matrix from them, in the influence.dtype setting's float32, as Captum
    computes) and through Captum's TracInCP, on the same checkpoints, data and layers: ``layers``
    "all" (every Linear layer of encoder and head) or "head". Beside them, lingtrace's floor on the
    job: the same per-example gradients and score matmul with no shard files (``in_memory``).
    ``fast``: also Captum's TracInCPFast (head only: it takes the last layer's gradients alone)."""
    captum = optional("captum")
    if captum is None:
        return None
    from captum.influence import TracInCP, TracInCPFast
    from safetensors.torch import load_file

    from lingtrace.batching import collate, encode
    from lingtrace.io.checkpoints import load_checkpoint, read_trace
    from lingtrace.tracin.api import dump_checkpoints, tracin_scores
    from lingtrace.tracin.gradients import compute_gradients, select_layers
    from lingtrace.tracin.projection import build_projector

    pattern = ALL_LINEAR if layers == "all" else HEAD
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        checkpoints, train, test, tokenizer = _captum_job(folder, n_train, n_test, n_ckpt)
        traced = list(select_layers(load_checkpoint(checkpoints[0])[0], pattern))
        gradients = {"layers": pattern, "projection": "none", "batch_size": batch}
        results = {}
        threads = torch.get_num_threads()  # dump_checkpoints sets the thread count: keep the bench's

        def ours():
            shutil.rmtree(folder / "grads", ignore_errors=True)
            train_paths, test_paths = dump_checkpoints(checkpoints, train, test, folder / "grads", gradients,
                                                       max_length=64, threads=threads)  # fmt: skip
            results["ours"] = tracin_scores(train_paths, test_paths, "dot")

        def in_memory():  # lingtrace's arithmetic without the shard files: its floor on this job
            total = 0.0
            for path in checkpoints:
                model, _, trace = load_checkpoint(path)
                traced_layers = select_layers(model, pattern)
                projector = build_projector("none", traced_layers, None, 0)
                train_grads, test_grads = (
                    torch.from_numpy(compute_gradients(model, encode(table, tokenizer, 64), traced_layers, projector,
                                                       batch).grads)
                    for table in (train, test)
                )  # fmt: skip
                total = total + trace["mean_lr"] * (test_grads @ train_grads.T)
            results["in_memory"] = total

        def tensors(table):
            data = encode(table, tokenizer, 64)
            b = collate(data, range(len(data)), tokenizer.pad_token_id)
            return data.uids, (b["input_ids"], b["attention_mask"], b["labels"])

        class Logits(torch.nn.Module):
            def __init__(self, model):
                super().__init__()
                self.model = model

            def forward(self, input_ids, attention_mask):
                return self.model(input_ids=input_ids, attention_mask=attention_mask).logits

        def load(net, path):
            net.model.load_state_dict(load_file(f"{path}/model.safetensors"), strict=False)
            net.eval()
            return read_trace(path)["mean_lr"]

        def captum_run(kind):
            model, _, _ = load_checkpoint(checkpoints[0])
            train_uids, train_tensors = tensors(train)
            test_uids, test_tensors = tensors(test)
            net = Logits(model).eval()
            dataset = torch.utils.data.TensorDataset(*train_tensors)
            paths = [str(c) for c in checkpoints]
            if kind == "fast":
                tracin = TracInCPFast(net, net.model.classifier.out_proj, dataset, paths, checkpoints_load_func=load,
                                      loss_fn=torch.nn.CrossEntropyLoss(reduction="sum"), batch_size=batch)  # fmt: skip
            else:
                tracin = TracInCP(net, dataset, paths, checkpoints_load_func=load,
                                  layers=[f"model.{name}" for name in traced],
                                  loss_fn=torch.nn.CrossEntropyLoss(reduction="sum"), batch_size=batch,
                                  sample_wise_grads_per_batch=True)  # fmt: skip
            results[kind] = tracin.influence(test_tensors, show_progress=False).detach().double().numpy()
            results["order"] = (test_uids, train_uids)

        cases = {"ours": ours, "captum": lambda: captum_run("captum"), "in_memory": in_memory}
        if fast:
            cases["captum_fast"] = lambda: captum_run("fast")
        best = best_times(cases, reps)
    ours_scores = results["ours"]
    assert (ours_scores.test_uids, ours_scores.train_uids) == results["order"], "row orders differ"
    theirs = results["captum"]

    def error(scores: np.ndarray) -> float:
        return float(np.abs(scores - theirs).max() / np.abs(theirs).max())

    row = {
        "captum_speedup": best["captum"] / best["ours"],
        "captum_max_rel_err": error(ours_scores.scores),
        "ours_seconds": best["ours"],
        "captum_seconds": best["captum"],
        "in_memory_seconds": best["in_memory"],
        "captum_in_memory_speedup": best["captum"] / best["in_memory"],
        "in_memory_max_rel_err": error(results["in_memory"].double().numpy()),
        "sizes": {"n_train": train.num_rows, "n_test": test.num_rows, "checkpoints": n_ckpt, "batch": batch,
                  "layers": traced, "model": TINY},  # fmt: skip
    }
    if fast:  # TracInCPFast sees the out_proj layer only: a speed figure, its scores are another quantity
        row["captum_fast_speedup"] = best["captum_fast"] / best["ours"]
        row["captum_fast_seconds"] = best["captum_fast"]
    return row


# --- all of it ------------------------------------------------------------------------------------


def figure(result: dict | None, key: str):
    return None if result is None else result[key]


def run_bench(quick: bool = False, threads: int | None = None) -> dict:
    if threads:
        torch.set_num_threads(threads)
    if quick:
        sizes = {"base": dict(arch={**BASE, "num_hidden_layers": 2}, batch=4, tokens=32, vocab=5000, reps=1),
                 "opacus_tiny": dict(batch=8, tokens=16, vocab=1000, reps=1),
                 "opacus_base": dict(arch={**BASE, "num_hidden_layers": 2}, batch=2, tokens=16, vocab=5000, reps=1),
                 "io": dict(n=2000, dim=1024, reps=2),
                 "kernel": dict(n_test=200, n_train=4096, dim=1024, reps=2),
                 "captum": dict(n_train=250, n_test=50, reps=1)}  # fmt: skip
        last = r"^(roberta\.encoder\.layer\.1\.(attention\.output|intermediate|output)\.dense|classifier\..*)$"
    else:
        sizes = {"base": dict(arch=BASE, batch=16, tokens=64, vocab=30000, reps=3),
                 "opacus_tiny": dict(batch=32, tokens=32, vocab=1000, reps=5),
                 "opacus_base": dict(arch=BASE, batch=16, tokens=64, vocab=30000, reps=3),
                 "io": dict(n=20000, dim=1024, reps=5),
                 "kernel": dict(n_test=2000, n_train=20000, dim=1024, reps=3),
                 "captum": dict(n_train=2000, n_test=200, reps=1)}  # fmt: skip
        last = LAST_LAYERS
    log.info("gradients on the XLM-R-base-shaped model")
    base = bench_gradients(**sizes["base"])
    log.info("gradients on the tiny model")
    tiny = bench_gradients(arch=TINY, batch=32, tokens=32, vocab=1000, reps=3)
    log.info("exact per-example gradients against opacus")
    opacus = {"tiny": bench_opacus(TINY, ALL_LINEAR, **sizes["opacus_tiny"]),
              "xlmr_base": bench_opacus(pattern=last, **sizes["opacus_base"])}
    log.info("gradient shard write and read against a file copy")
    io = bench_shard_io(**sizes["io"])
    log.info("scoring kernel")
    kernel = bench_kernel(**sizes["kernel"])
    log.info("scoring a whole shard")
    shard = bench_shard_end_to_end(**{k: v for k, v in sizes["kernel"].items() if k != "reps"}, reps=2)
    log.info("against Captum TracInCP: every Linear layer")
    captum = bench_captum(**sizes["captum"], layers="all")
    log.info("against Captum TracInCP and TracInCPFast: the head")
    captum_head = bench_captum(**sizes["captum"], layers="head", fast=True)
    by_shape = {shape: figure(result, "grad_vs_opacus") for shape, result in opacus.items()}
    return {
        "grad_ratio_vs_fwdbwd": base["grad_ratio_vs_fwdbwd"],
        "grad_speedup_vs_loop": base["grad_speedup_vs_loop"],
        "grad_vs_opacus": None if None in by_shape.values() else min(by_shape.values()),
        "grad_vs_opacus_by_shape": by_shape,
        "score_fraction_of_matmul": kernel["score_fraction_of_matmul"],
        "shard_fraction_of_matmul": shard["shard_fraction_of_matmul"],
        "shard_write_vs_copy": io["shard_write_vs_copy"],
        "shard_read_vs_copy": io["shard_read_vs_copy"],
        "shard_gb_per_s": io["gb_per_s"],
        "captum_speedup": figure(captum, "captum_speedup"),
        "captum_max_rel_err": figure(captum, "captum_max_rel_err"),
        "captum_head_speedup": figure(captum_head, "captum_speedup"),
        "captum_head_max_rel_err": figure(captum_head, "captum_max_rel_err"),
        "captum_in_memory_speedup": figure(captum, "captum_in_memory_speedup"),
        "captum_fast_head_speedup": figure(captum_head, "captum_fast_speedup"),
        "details": {"gradients_base": base, "gradients_tiny": tiny, "opacus": opacus, "shard_io": io,
                    "kernel": kernel, "shard": shard, "captum": captum, "captum_head": captum_head},  # fmt: skip
        "quick": quick,
        "device": "cpu",
        "threads": torch.get_num_threads(),
        "load_average": list(os.getloadavg()),
        "machine": {"python": platform.python_version(), "torch": torch.__version__, "processor": platform.machine(),
                    "cpus": os.cpu_count(), "lingtrace": __version__},  # fmt: skip
    }

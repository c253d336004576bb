"""The ``synthetic`` data source: babel tasks written as the data contract."""

from __future__ import annotations

import numpy as np
import pyarrow as pa

from lingtrace.data import babel
from lingtrace.io.data import to_table


def split_size(task: dict, split: str, lang: str) -> int:
    sizes = task.get(f"{split}_sizes") or {}
    return int(sizes.get(lang, task[f"{split}_per_lang"]))


def _noisy(label: int, rng: np.random.Generator, noise: float, num_labels: int) -> int:
    if noise > 0 and rng.random() < noise:
        return int((label + 1 + rng.integers(num_labels - 1)) % num_labels)
    return label


def _rows(world, task, split, items_by_lang, offset=0) -> list[dict]:
    shape = task["shape"]
    parallel = shape in babel.PARALLEL_SHAPES
    rows = []
    for lang, items in items_by_lang.items():
        renderer = babel.Renderer(world, lang)
        noise_rng = babel.rng_for(world.seed, task["name"], split, "noise", lang)
        for i, item in enumerate(items, start=offset):
            text_a, text_b = babel.render_item(renderer, item)
            item_id = f"{task['name']}-{split}-{i:06d}" if parallel else f"{task['name']}-{split}-{lang}-{i:06d}"
            label = _noisy(item.label, noise_rng, task.get("label_noise", 0.0), babel.TASK_SHAPES[shape])
            rows.append(
                {
                    "uid": f"{task['name']}-{split}-{lang}-{i:06d}",
                    "item_id": item_id,
                    "lang": lang,
                    "text_a": text_a,
                    "text_b": text_b,
                    "label": label,
                }
            )
    return rows


def _items(world, task, stream: str, lang: str | None, n: int) -> list:
    """n latent items; parallel shapes share one stream across languages (lang=None)."""
    rng = babel.rng_for(world.seed, task["name"], stream, lang or "*")
    return [babel.make_item(task["shape"], rng, world.inventory, task.get("knobs")) for _ in range(n)]


def generate_split(world_cfg: dict, task: dict, split: str) -> pa.Table:
    """The train or test split of a babel task, over the task's languages for that split."""
    world = babel.World.from_config(world_cfg)
    langs = task["train_langs"] if split == "train" else task["test_langs"]
    sizes = {lang: split_size(task, split, lang) for lang in langs}
    if task["shape"] in babel.PARALLEL_SHAPES:
        shared = _items(world, task, split, None, max(sizes.values()))
        items = {lang: shared[: sizes[lang]] for lang in langs}
    else:
        items = {lang: _items(world, task, split, lang, sizes[lang]) for lang in langs}
    return to_table(_rows(world, task, split, items))


def generate_extra(world_cfg: dict, task: dict, lang: str) -> pa.Table:
    """Training examples beyond the balanced pool, for ``boost-{lang}`` runs (factor - 1 times more)."""
    world = babel.World.from_config(world_cfg)
    base = split_size(task, "train", lang)
    n = base * (int(task["boost_factor"]) - 1)
    parallel = task["shape"] in babel.PARALLEL_SHAPES
    items = _items(world, task, "extra", None if parallel else lang, n)
    return to_table(_rows(world, task, "extra", {lang: items}, offset=0))


def generate_corpus(world_cfg: dict, sentences_per_lang: int) -> pa.Table:
    """Monolingual text in every language of the world, for tokenizer training and MLM pretraining."""
    world = babel.World.from_config(world_cfg)
    langs, texts = [], []
    for code in world.languages:
        sentences = babel.corpus_sentences(world, code, sentences_per_lang)
        langs += [code] * len(sentences)
        texts += sentences
    return pa.table({"lang": langs, "text": texts})


def planted_similarity(world_cfg: dict, langs: list[str]) -> pa.Table:
    world = babel.World.from_config(world_cfg)
    return pa.Table.from_pylist(world.similarity(list(langs)))

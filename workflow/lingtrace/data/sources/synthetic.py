"""The ``synthetic`` data source: babel tasks (lingtrace.data.babel) written as the data contract."""

from __future__ import annotations

import numpy as np
import pyarrow as pa

from lingtrace.data import babel
from lingtrace.data.sources import register
from lingtrace.data.sources.base import DataSource
from lingtrace.errors import ConfigError
from lingtrace.io.data import to_table


@register
class SyntheticSource(DataSource):
    """Babel tasks: the world's languages render one shared stream of latent items per task."""

    name = "synthetic"

    def resolve(self, task: dict) -> dict:
        task = super().resolve(task)
        if task.get("num_labels") is None and task.get("shape") in babel.TASK_SHAPES:
            task["num_labels"] = babel.TASK_SHAPES[task["shape"]]
        task["parallel"] = task.get("shape") in babel.PARALLEL_SHAPES  # the generator decides, not the key
        return task

    def check(self, task, where: str, world_langs: set[str]) -> None:
        if task.shape is None:
            raise ConfigError(f"{where}.shape: synthetic tasks need a shape, one of {sorted(babel.TASK_SHAPES)}")
        for key in ("train_langs", "zero_shot_langs"):
            unknown = [lang for lang in getattr(task, key) if lang not in world_langs]
            if unknown:
                raise ConfigError(f"{where}.{key}: language(s) {unknown} are not declared in world.languages")

    def load(self, task, split: str, world=None, lang: str | None = None) -> pa.Table:
        if world is None:
            raise ConfigError(f"tasks ({task.name}): synthetic tasks need the world of languages (config key world)")
        world = babel.World.from_config(world)
        if split == "extra":
            return self._extra(world, task, lang)
        langs = self.languages(task, split)
        sizes = {code: self.size(task, split, code) for code in langs}
        if task.parallel:
            shared = _items(world, task, split, None, max(sizes.values()))
            items = {code: shared[: sizes[code]] for code in langs}
        else:
            items = {code: _items(world, task, split, code, sizes[code]) for code in langs}
        return to_table(_rows(world, task, split, items))

    def _extra(self, world: babel.World, task, lang: str) -> pa.Table:
        """Training examples beyond the balanced pool, for ``boost-{lang}`` runs (factor - 1 times more)."""
        items = _items(world, task, "extra", None if task.parallel else lang, self.size(task, "extra", lang))
        return to_table(_rows(world, task, "extra", {lang: items}))


def _noisy(label: int, rng: np.random.Generator, noise: float, num_labels: int) -> int:
    if noise > 0 and rng.random() < noise:
        return int((label + 1 + rng.integers(num_labels - 1)) % num_labels)
    return label


def _rows(world: babel.World, task, split: str, items_by_lang: dict) -> list[dict]:
    rows = []
    for lang, items in items_by_lang.items():
        renderer = babel.Renderer(world, lang)
        noise_rng = babel.rng_for(world.seed, task.name, split, "noise", lang)
        for i, item in enumerate(items):
            text_a, text_b = babel.render_item(renderer, item)
            item_id = f"{task.name}-{split}-{i:06d}" if task.parallel else f"{task.name}-{split}-{lang}-{i:06d}"
            rows.append(
                {
                    "uid": f"{task.name}-{split}-{lang}-{i:06d}",
                    "item_id": item_id,
                    "lang": lang,
                    "text_a": text_a,
                    "text_b": text_b,
                    "label": _noisy(item.label, noise_rng, task.label_noise, task.num_labels),
                }
            )
    return rows


def _items(world: babel.World, task, stream: str, lang: str | None, n: int) -> list:
    """n latent items; parallel shapes share one stream across languages (lang=None)."""
    rng = babel.rng_for(world.seed, task.name, stream, lang or "*")
    return [babel.make_item(task.shape, rng, world.inventory, task.knobs) for _ in range(n)]


def generate_corpus(world_cfg) -> pa.Table:
    """Monolingual documents in every language of the world, for tokenizer training and MLM pretraining:
    columns lang, text, text_b (the restating second text of a pair document, else null)."""
    world = babel.World.from_config(world_cfg)
    langs, texts, seconds = [], [], []
    for code in world.languages:
        documents = babel.corpus_documents(world, code)
        langs += [code] * len(documents)
        texts += [text for text, _ in documents]
        seconds += [second for _, second in documents]
    return pa.table({"lang": langs, "text": texts, "text_b": pa.array(seconds, pa.string())})


def planted_similarity(world_cfg, langs: list[str]) -> pa.Table:
    world = babel.World.from_config(world_cfg)
    return pa.Table.from_pylist(world.similarity(list(langs)))

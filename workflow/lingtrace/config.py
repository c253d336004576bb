"""Study-level config logic: derived lists (runs, checkpoints) and checks across keys.

The JSON schema (workflow/schemas/config.schema.yaml) checks each key on its own; ``check_study``
checks what no schema can: that languages named in one place exist in another, that checkpoints
and k fit what training produces. The Snakefile calls it before any job runs.
"""

from __future__ import annotations

import json

from lingtrace.data.babel import PARALLEL_SHAPES, TASK_SHAPES
from lingtrace.errors import ConfigError
from lingtrace.runs import parse_run


def canonical(obj) -> str:
    """A stable JSON text of a config slice: the same slice always gives the same text."""
    return json.dumps(obj, sort_keys=True, separators=(",", ":"))


def task_list(config: dict) -> list[dict]:
    return [resolve_task(t) for t in config["tasks"]]


def task_by_name(config: dict, name: str) -> dict:
    for task in task_list(config):
        if task["name"] == name:
            return task
    raise ConfigError(f"tasks: no task named {name!r}")


def resolve_task(task: dict) -> dict:
    """A task with its derived keys filled in: test_langs, num_labels, parallel."""
    task = dict(task)
    task.setdefault("zero_shot_langs", [])
    task.setdefault("test_langs", list(task["train_langs"]) + list(task["zero_shot_langs"]))
    if task["source"] == "synthetic":
        task.setdefault("num_labels", TASK_SHAPES.get(task.get("shape"), 0))
        task.setdefault("parallel", task.get("shape") in PARALLEL_SHAPES)
    else:
        task.setdefault("parallel", False)
    return task


def chance(task: dict) -> float:
    """Accuracy of a uniform guess: the babel tasks are balanced; real tasks may be too."""
    return 1.0 / task["num_labels"]


def _run_langs(value, task: dict) -> list[str]:
    return list(task["train_langs"]) if value == "all" else list(value or [])


def task_runs(config: dict, task: dict) -> dict:
    """The task's run settings: its own ``runs`` if it has them, else the top-level ones."""
    runs = task.get("runs") or config.get("runs") or {}
    return {
        "without": _run_langs(runs.get("without"), task),
        "mono": _run_langs(runs.get("mono"), task),
        "boost": _run_langs(runs.get("boost"), task),
        "removal": bool(runs.get("removal", False)),
    }


def run_names(config: dict, task: dict) -> list[str]:
    """Every fine-tuning run of a task, joint first."""
    runs = task_runs(config, task)
    names = ["joint"]
    names += [f"without-{lang}" for lang in runs["without"]]
    names += [f"mono-{lang}" for lang in runs["mono"]]
    names += [f"boost-{lang}" for lang in runs["boost"]]
    if runs["removal"]:
        names += ["remove-tracin", "remove-random"]
    return names


def seeds(config: dict) -> list[int]:
    return list(config["study"]["seeds"])


def influence_seed(config: dict) -> int:
    return seeds(config)[0]


def influence_runs(config: dict, task: dict) -> list[str]:
    """Runs whose gradients are dumped and scored: the task's ``influence_runs``, else
    ``influence.runs``; joint always (the removal test and the analyses compare against it)."""
    wanted = list(task.get("influence_runs") or config.get("influence", {}).get("runs", ["joint"]))
    return wanted if "joint" in wanted else ["joint", *wanted]


def epochs(config: dict) -> list[int]:
    return list(range(1, config["finetune"]["epochs"] + 1))


def influence_checkpoints(config: dict) -> list[int]:
    chosen = config.get("influence", {}).get("checkpoints", "all")
    return epochs(config) if chosen == "all" else sorted(chosen)


def pool_size(task: dict, run: str, lang_sizes: dict[str, int]) -> int:
    """Training examples a run sees, from per-language pool sizes."""
    spec = parse_run(run)
    if spec.kind == "mono":
        return lang_sizes[spec.arg]
    total = sum(lang_sizes[lang] for lang in task["train_langs"])
    if spec.kind == "without":
        return total - lang_sizes[spec.arg]
    if spec.kind == "boost":
        return total + lang_sizes[spec.arg] * (task["boost_factor"] - 1)
    return total


def check_study(config: dict) -> None:
    """Raise ConfigError naming the key, for contradictions across keys."""
    world_langs = {lang["code"] for lang in config.get("world", {}).get("languages", [])}
    names = [t["name"] for t in config["tasks"]]
    duplicates = sorted({n for n in names if names.count(n) > 1})
    if duplicates:
        raise ConfigError(f"tasks: task name(s) {duplicates} used more than once")
    for i, raw in enumerate(config["tasks"]):
        task = resolve_task(raw)
        where = f"tasks[{i}] ({task['name']})"
        _check_task_languages(task, where, world_langs)
        _check_task_runs(config, task, where)
        _check_pool_sizes(config, task, where)
    for epoch in influence_checkpoints(config):
        if epoch > config["finetune"]["epochs"]:
            raise ConfigError(
                f"influence.checkpoints: epoch {epoch} is not produced: finetune.epochs is {config['finetune']['epochs']}"
            )
    analysis = config.get("analysis", {})
    top_k = config.get("influence", {}).get("top_k", 100)
    for k in analysis.get("k", []):
        if k > top_k:
            raise ConfigError(f"analysis.k: {k} is larger than influence.top_k ({top_k}), which bounds what is kept")
    if analysis.get("headline_k", 10) not in analysis.get("k", [10]):
        raise ConfigError(f"analysis.headline_k: {analysis.get('headline_k')} is not one of analysis.k {analysis.get('k')}")
    if config.get("model", {}).get("name_or_path") is None:
        missing = [k for k in ("world",) if k not in config]
        synthetic = any(t["source"] == "synthetic" for t in config["tasks"])
        if missing and synthetic:
            raise ConfigError("world: synthetic tasks need a world of languages")


def _check_task_languages(task: dict, where: str, world_langs: set[str]) -> None:
    if task["source"] == "synthetic":
        if "shape" not in task:
            raise ConfigError(f"{where}.shape: synthetic tasks need a shape, one of {sorted(TASK_SHAPES)}")
        for key in ("train_langs", "zero_shot_langs"):
            unknown = [lang for lang in task[key] if lang not in world_langs]
            if unknown:
                raise ConfigError(f"{where}.{key}: language(s) {unknown} are not declared in world.languages")
    else:
        if "num_labels" not in task:
            raise ConfigError(f"{where}.num_labels: {task['source']} tasks must say how many labels they have")
    both = sorted(set(task["train_langs"]) & set(task["zero_shot_langs"]))
    if both:
        raise ConfigError(f"{where}.zero_shot_langs: {both} are also fine-tuning languages")
    known = set(task["train_langs"]) | set(task["zero_shot_langs"])
    stray = [lang for lang in task["test_langs"] if lang not in known]
    if stray:
        raise ConfigError(
            f"{where}.test_langs: {stray} are neither fine-tuning (train_langs) nor zero-shot (zero_shot_langs) languages"
        )
    sized = [lang for lang in task.get("train_sizes", {}) if lang not in task["train_langs"]]
    if sized:
        raise ConfigError(f"{where}.train_sizes: {sized} are not fine-tuning languages of the task")


def _check_task_runs(config: dict, task: dict, where: str) -> None:
    runs_key = f"{where}.runs" if task.get("runs") else "runs"
    for kind, langs in task_runs(config, task).items():
        if kind == "removal":
            continue
        unknown = [lang for lang in langs if lang not in task["train_langs"]]
        if unknown:
            raise ConfigError(
                f"{runs_key}.{kind}: {unknown} are not fine-tuning languages of task {task['name']} "
                f"(train_langs: {task['train_langs']})"
            )
    made = run_names(config, task)
    key = f"{where}.influence_runs" if task.get("influence_runs") else "influence.runs"
    for run in influence_runs(config, task):
        try:
            parse_run(run)
        except ValueError as err:
            raise ConfigError(f"{key}: {err}") from None
        if run not in made:
            raise ConfigError(f"{key}: {run!r} is not a run of task {task['name']} (its runs: {made})")
    if "remove-tracin" in made and len(task["train_langs"]) < 1:
        raise ConfigError(f"{runs_key}.removal: the removal test needs fine-tuning languages")


def _check_pool_sizes(config: dict, task: dict, where: str) -> None:
    sizes = {lang: task.get("train_sizes", {}).get(lang, task.get("train_per_lang", 400)) for lang in task["train_langs"]}
    top_k = config.get("influence", {}).get("top_k", 100)
    for run in influence_runs(config, task):
        if run not in run_names(config, task):
            continue
        shards = config.get("gradients", {}).get("shards", {}).get("train", 1)
        pool = pool_size(task, run, sizes)
        if top_k > pool:
            raise ConfigError(
                f"influence.top_k: {top_k} is larger than the training pool of {task['name']}/{run} ({pool} examples)"
            )
        if shards > pool:
            raise ConfigError(f"gradients.shards.train: {shards} shards for only {pool} training examples in {run}")
    removal = config.get("removal", {})
    if task_runs(config, task)["removal"]:
        m = removal.get("m", 10)
        if m > top_k:
            raise ConfigError(f"removal.m: {m} is larger than influence.top_k ({top_k})")

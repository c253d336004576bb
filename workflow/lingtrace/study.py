"""Study-level config logic: derived lists (tasks, runs, seeds, checkpoints) and checks across keys.

The config schema checks each key on its own and holds every default (lingtrace.settings);
``check_study`` checks what no schema can: that languages named in one place exist in another, that
checkpoints, k and shard counts fit what training and scoring produce, that the variants the analyses
read are scored, that ``gradients.layers`` compiles, that a local starting model has safetensors
weights. The Snakefile calls it before any job runs.
"""

from __future__ import annotations

import json
import re

from lingtrace import settings
from lingtrace.data.sources import source_of
from lingtrace.errors import ConfigError
from lingtrace.finetuning.runs import CONTROL_RUN, parse_run
from lingtrace.model.build import check_weights


def canonical(obj) -> str:
    """A stable JSON text of a config slice: the same slice always gives the same text."""
    return json.dumps(settings.as_dict(obj), sort_keys=True, separators=(",", ":"))


def task_of(params: dict) -> dict:
    """The task slice of a stage's params; a ConfigError naming what is missing when there is none."""
    if "task" not in params:
        raise ConfigError("--params: this stage needs the task's settings under 'task' (name, source, train_langs, ...)")
    return params["task"]


def resolve_task(raw):
    """A task's typed settings: schema defaults, then the derived keys its source fills in
    (``test_langs``, ``num_labels``, ``parallel``). Settings already resolved are returned as they are."""
    if not isinstance(raw, dict):
        return raw
    task = settings.with_defaults("task", raw)
    return settings.load("task", source_of(task).resolve(task))


def task_list(config: dict) -> list:
    return [resolve_task(t) for t in config["tasks"]]


def chance(task) -> float:
    """Accuracy of a uniform guess: the babel tasks are balanced; real tasks may be too."""
    return 1.0 / task.num_labels


def _run_langs(value, task) -> list[str]:
    return list(task.train_langs) if value == "all" else list(value)


def task_runs(config: dict, task) -> dict:
    """The task's run settings: its own ``runs`` if it has them, else the top-level ones."""
    runs = settings.as_dict(task.runs) if task.runs is not None else config["runs"]
    runs = settings.with_defaults("runs", runs)
    return {
        "without": _run_langs(runs["without"], task),
        "mono": _run_langs(runs["mono"], task),
        "boost": _run_langs(runs["boost"], task),
        "control": runs["control"],
        "removal": runs["removal"],
        "lds": runs["lds"],
    }


def run_names(config: dict, task) -> list[str]:
    """Every fine-tuning run of a task, joint first."""
    runs = task_runs(config, task)
    names = ["joint"]
    names += [f"without-{lang}" for lang in runs["without"]]
    if runs["without"] and runs["control"]:
        names.append(CONTROL_RUN)
    names += [f"mono-{lang}" for lang in runs["mono"]]
    names += [f"boost-{lang}" for lang in runs["boost"]]
    if runs["removal"]:
        names += ["remove-tracin", *(f"remove-random-{d}" for d in range(config["removal"]["draws"]))]
    if runs["lds"]:
        names += [f"subset-{i}" for i in range(config["lds"]["subsets"])]
    return names


def run_seeds(config: dict, run: str) -> list[int]:
    """The seeds a run is trained with: removal runs the first ``removal.seeds``, LDS subsets the first
    seed, every other run all of study.seeds."""
    kind = parse_run(run).kind
    if kind == "remove":
        return seeds(config)[: config["removal"]["seeds"]]
    if kind == "subset":
        return seeds(config)[:1]
    return seeds(config)


def seeds(config: dict) -> list[int]:
    return list(config["study"]["seeds"])


def influence_seed(config: dict) -> int:
    """The seed of the single-seed views (the examples page, the removal sets): the first."""
    return seeds(config)[0]


def influence_seeds(config: dict) -> list[int]:
    """The seeds TracIn analyses: the first ``influence.seeds`` of study.seeds (all when null)."""
    wanted = config["influence"]["seeds"]
    return seeds(config) if wanted is None else seeds(config)[:wanted]


def influence_runs(config: dict, task) -> list[str]:
    """Runs whose gradients are dumped and scored: the task's ``influence_runs``, else
    ``influence.runs``; joint always (the removal test and the analyses compare against it)."""
    wanted = list(task.influence_runs or config["influence"]["runs"])
    return wanted if "joint" in wanted else ["joint", *wanted]


def epochs(config: dict) -> list[int]:
    return list(range(1, config["finetune"]["epochs"] + 1))


def influence_checkpoints(config: dict) -> list[int]:
    chosen = config["influence"]["checkpoints"]
    return epochs(config) if chosen == "all" else sorted(chosen)


def pool_size(task, run: str) -> int:
    """Training examples a run sees."""
    source = source_of(task)
    sizes = {lang: source.size(task, "train", lang) for lang in task.train_langs}
    spec = parse_run(run)
    if spec.kind == "mono":
        return sizes[spec.arg]
    total = sum(sizes.values())
    if spec.kind == "without":
        return total - sizes[spec.arg]
    if spec.kind == "boost":
        return total + source.size(task, "extra", spec.arg)
    return total


def check_study(config: dict) -> None:
    """Raise ConfigError naming the key, for contradictions across keys."""
    config = settings.complete(config)
    if "world" not in config and any(t["source"] == "synthetic" for t in config["tasks"]):
        raise ConfigError("world: synthetic tasks need a world of languages")
    world_langs = {lang["code"] for lang in (config.get("world") or {}).get("languages", [])}
    if "random" in world_langs | {lang for t in config["tasks"] for lang in t["train_langs"]}:
        raise ConfigError("world.languages: 'random' is reserved (the run without-random is the ablation's control)")
    names = [t["name"] for t in config["tasks"]]
    duplicates = sorted({n for n in names if names.count(n) > 1})
    if duplicates:
        raise ConfigError(f"tasks: task name(s) {duplicates} used more than once")
    for i, raw in enumerate(config["tasks"]):
        task = resolve_task(raw)
        where = f"tasks[{i}] ({task.name})"
        source_of(task).check(task, where, world_langs)
        _check_task_languages(task, where)
        _check_task_runs(config, task, where)
        _check_pool_sizes(config, task)
    wanted = config["influence"]["seeds"]
    if wanted is not None and wanted > len(config["study"]["seeds"]):
        raise ConfigError(f"influence.seeds: {wanted} seeds asked for, but study.seeds has {len(config['study']['seeds'])}")
    for epoch in influence_checkpoints(config):
        if epoch > config["finetune"]["epochs"]:
            raise ConfigError(
                f"influence.checkpoints: epoch {epoch} is not produced: finetune.epochs is {config['finetune']['epochs']}"
            )
    analysis, top_k = config["analysis"], config["influence"]["top_k"]
    for k in analysis["k"]:
        if k > top_k:
            raise ConfigError(f"analysis.k: {k} is larger than influence.top_k ({top_k}), which bounds what is kept")
    if analysis["headline_k"] not in analysis["k"]:
        raise ConfigError(f"analysis.headline_k: {analysis['headline_k']} is not one of analysis.k {analysis['k']}")
    _check_variants(config)
    _check_gradients(config)
    if config["model"]["name_or_path"]:  # a local folder of pickled weights is refused now, not at fine-tuning
        check_weights(config["model"]["name_or_path"], config["model"]["allow_pickle"])


def _check_variants(config: dict) -> None:
    """The variants the analyses and the removal test read must be among those scored."""
    scored = list(config["influence"]["variants"])
    readers = [("analysis.variant", config["analysis"]["variant"])]
    if any(task_runs(config, task)["removal"] for task in task_list(config)):
        readers.append(("removal.variant", config["removal"]["variant"]))
    for key, variant in readers:
        if variant not in scored:
            raise ConfigError(f"{key}: {variant!r} is not scored: influence.variants is {scored}; add it there "
                              f"or set {key} to one of them")  # fmt: skip


def _check_gradients(config: dict) -> None:
    pattern = config["gradients"]["layers"]
    try:
        re.compile(pattern)
    except re.error as err:
        raise ConfigError(f"gradients.layers: {pattern!r} is not a valid regular expression ({err})") from None
    shards = config["gradients"]["shards"]["test"]
    for task in task_list(config):
        scored = scored_test_examples(config, task)
        if shards > scored:
            raise ConfigError(f"gradients.shards.test: {shards} shards for only {scored} scored test examples of "
                              f"task {task.name} (influence.test_per_lang, test_per_lang)")  # fmt: skip


def scored_test_examples(config: dict, task) -> int:
    """Test examples whose influence is scored: ``influence.test_per_lang`` (all: null) of each test language."""
    per_lang = config["influence"]["test_per_lang"]
    size = source_of(task).size
    return sum(min(size(task, "test", lang), per_lang or size(task, "test", lang)) for lang in task.test_langs)


def _check_task_languages(task, where: str) -> None:
    both = sorted(set(task.train_langs) & set(task.zero_shot_langs))
    if both:
        raise ConfigError(f"{where}.zero_shot_langs: {both} are also fine-tuning languages")
    known = set(task.train_langs) | set(task.zero_shot_langs)
    stray = [lang for lang in task.test_langs if lang not in known]
    if stray:
        raise ConfigError(
            f"{where}.test_langs: {stray} are neither fine-tuning (train_langs) nor zero-shot (zero_shot_langs) languages"
        )
    sized = [lang for lang in task.train_sizes if lang not in task.train_langs]
    if sized:
        raise ConfigError(f"{where}.train_sizes: {sized} are not fine-tuning languages of the task")


def _check_task_runs(config: dict, task, where: str) -> None:
    runs_key = f"{where}.runs" if task.runs is not None else "runs"
    for kind, langs in task_runs(config, task).items():
        if kind in ("control", "removal", "lds"):
            continue
        unknown = [lang for lang in langs if lang not in task.train_langs]
        if unknown:
            raise ConfigError(
                f"{runs_key}.{kind}: {unknown} are not fine-tuning languages of task {task.name} "
                f"(train_langs: {list(task.train_langs)})"
            )
    made = run_names(config, task)
    key = f"{where}.influence_runs" if task.influence_runs else "influence.runs"
    for run in influence_runs(config, task):
        try:
            parse_run(run)
        except ValueError as err:
            raise ConfigError(f"{key}: {err}") from None
        if run not in made:
            raise ConfigError(f"{key}: {run!r} is not a run of task {task.name} (its runs: {made})")
        if parse_run(run).kind not in ("joint", "without", "mono", "boost") or run == CONTROL_RUN:
            raise ConfigError(f"{key}: {run!r} cannot be analysed by TracIn: analysed runs are joint, without-L, "
                              "mono-L and boost-L")  # fmt: skip


def _check_pool_sizes(config: dict, task) -> None:
    top_k = config["influence"]["top_k"]
    shards = config["gradients"]["shards"]["train"]
    for run in influence_runs(config, task):
        pool = pool_size(task, run)
        if top_k > pool:
            raise ConfigError(
                f"influence.top_k: {top_k} is larger than the training pool of {task.name}/{run} ({pool} examples)"
            )
        if shards > pool:
            raise ConfigError(f"gradients.shards.train: {shards} shards for only {pool} training examples in {run}")
    if task_runs(config, task)["removal"]:
        if config["removal"]["m"] > top_k:
            raise ConfigError(f"removal.m: {config['removal']['m']} is larger than influence.top_k ({top_k})")
        analysed = len(influence_seeds(config))
        if config["removal"]["seeds"] > analysed:
            raise ConfigError(f"removal.seeds: {config['removal']['seeds']} retraining seeds, but TracIn analyses only "
                              f"{analysed} (influence.seeds): each removal seed removes its own seed's proponents")  # fmt: skip

# Shared helpers: derived lists, paths and config slices. Rules pass each job only its own slice,
# as canonical JSON, so that editing one config section reruns only the stages that read it.
import lingtrace.config as study
from lingtrace.data.prepare import split_languages, task_slice, world_slice
from lingtrace.layout import ANALYSIS_TABLES, FIGURES

study.check_study(config)

TASKS = {task["name"]: task for task in study.task_list(config)}
SEEDS = study.seeds(config)
EPOCHS = study.epochs(config)
THREADS = config["study"]["threads"]
ENV = "../../envs/lingtrace.yaml"


wildcard_constraints:
    task="|".join(TASKS),
    run=r"joint|(without|mono|boost)-[A-Za-z][A-Za-z0-9_]*|remove-(tracin|random)",
    seed=r"\d+",
    epoch=r"\d+",
    split="train|test",
    lang=r"[A-Za-z][A-Za-z0-9_]*",


def as_params(**parts):
    """A config slice as one canonical JSON string (tracked by Snakemake's params trigger)."""
    return study.canonical(parts)


def run_dir(task, run, seed):
    return f"results/{task}/{run}/seed-{seed}"


def uses_tiny_model():
    return config["model"]["name_or_path"] is None


def model_source():
    """The directory (or hub name) fine-tuning starts from."""
    return "results/pretrain/model" if uses_tiny_model() else config["model"]["name_or_path"]


def task_runs(task_name):
    return study.run_names(config, TASKS[task_name])


def data_params(wildcards, split):
    task = TASKS[wildcards.task]
    langs = split_languages(task, split, getattr(wildcards, "lang", None))
    world = world_slice(config.get("world"), langs) if task["source"] == "synthetic" else None
    return as_params(task=task_slice(task, split), world=world)


def finetune_device():
    return config["study"]["device"]


def gpu_jobs(device):
    """Scheduling label for SLURM and --resources: one GPU when the stage runs on CUDA."""
    return 1 if device == "cuda" else 0


def finetune_inputs(wildcards):
    inputs = {"train": f"results/{wildcards.task}/data/train.parquet"}
    if uses_tiny_model():
        inputs["model"] = "results/pretrain/model/model.safetensors"
    kind, _, arg = wildcards.run.partition("-")
    if kind == "boost":
        inputs["extra"] = f"results/{wildcards.task}/data/extra-{arg}.parquet"
    if kind == "remove":
        inputs["removed"] = f"results/{wildcards.task}/removal/{arg}.parquet"
    return inputs


def optional_arg(flag, name):
    """[flag, path] when the job has that input, else nothing (quoted in the shell with :q)."""
    return lambda wildcards, input: [flag, input[name]] if name in input.keys() else []


def task_checkpoints(wildcards):
    return [
        f"{run_dir(wildcards.task, run, seed)}/checkpoints/epoch-{epoch}/trace.json"
        for run in task_runs(wildcards.task)
        for seed in SEEDS
        for epoch in EPOCHS
    ]


def checkpoint_args(wildcards):
    return [
        f"{run}:{seed}:{run_dir(wildcards.task, run, seed)}/checkpoints/epoch-{epoch}"
        for run in task_runs(wildcards.task)
        for seed in SEEDS
        for epoch in EPOCHS
    ]


INFLUENCE_SEED = study.influence_seed(config)
INFLUENCE_CHECKPOINTS = study.influence_checkpoints(config)


def gradient_settings():
    """The gradients slice a dump depends on (shard layout and keep/temp are in the paths)."""
    settings = {k: v for k, v in config["gradients"].items() if k not in ("shards", "keep")}
    return {**settings, "max_length": config["finetune"]["max_length"], "device": config["study"]["device"]}


def gradient_shard(path):
    return path if config["gradients"]["keep"] else temp(path)


def gradient_inputs(wildcards):
    prefix = f"{run_dir(wildcards.task, wildcards.run, wildcards.seed)}/checkpoints/epoch-{wildcards.epoch}"
    inputs = {
        "weights": f"{prefix}/model.safetensors",
        "trace": f"{prefix}/trace.json",
        "data": f"results/{wildcards.task}/data/{wildcards.split}.parquet",
    }
    if wildcards.split == "train":
        run_inputs = finetune_inputs(wildcards)
        inputs.update({k: run_inputs[k] for k in ("extra", "removed") if k in run_inputs})
    return inputs


def gradient_paths(wildcards, split, shards):
    return [
        f"{run_dir(wildcards.task, wildcards.run, wildcards.seed)}/grads/epoch-{epoch}/{split}/shard-{shard}.parquet"
        for epoch in INFLUENCE_CHECKPOINTS
        for shard in shards
    ]


def influence_tables(task):
    """The merged influence tables of every analysed run of a task."""
    return [
        f"{run_dir(task, run, INFLUENCE_SEED)}/influence/{table}.parquet"
        for run in study.influence_runs(config, TASKS[task])
        for table in ("topk", "lang_scores")
    ]


def study_outputs():
    """What `snakemake` with no target builds: the summary, figures and example pages."""
    return ["results/summary.json", "results/summary.md"] + report_outputs()


def planted_input(task):
    """The planted similarity of babel tasks (none for real data)."""
    return f"results/{task}/data/planted_similarity.parquet" if TASKS[task]["source"] == "synthetic" else []


def analysed_run_args(task):
    """RUN=TOPK:LANG_SCORES for each analysed run (the analyze command's --run)."""
    args = []
    for run in study.influence_runs(config, TASKS[task]):
        folder = f"{run_dir(task, run, INFLUENCE_SEED)}/influence"
        args.append(f"{run}={folder}/topk.parquet:{folder}/lang_scores.parquet")
    return args


def validation_inputs(wildcards):
    inputs = {
        "metrics": f"results/{wildcards.task}/metrics/accuracy.parquet",
        "predictions": f"results/{wildcards.task}/metrics/predictions.parquet",
        "tables": [f"results/{wildcards.task}/tables/{t}.parquet" for t in ("influence_matrix", "language_shares")],
    }
    if study.task_runs(config, TASKS[wildcards.task])["removal"]:
        inputs["sample"] = f"results/{wildcards.task}/removal/sample.parquet"
    return inputs


def figure_settings():
    """What the figures depend on: their report keys and the analysis' headline variant and k."""
    chosen = {k: config["report"][k] for k in ("dpi", "cmap")}
    return {**chosen, "variant": config["analysis"]["variant"], "k": config["analysis"]["headline_k"]}


def example_settings():
    """What the examples page depends on."""
    chosen = {k: config["report"][k] for k in ("examples_per_lang", "show_k")}
    return {**chosen, "variant": config["analysis"]["variant"]}


def report_outputs():
    return [f"results/{task}/examples.html" for task in TASKS] + [
        f"results/{task}/figures/{name}.{ext}" for task in TASKS for name in FIGURES for ext in ("png", "svg")
    ]

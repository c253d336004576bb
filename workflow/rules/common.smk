# Shared helpers: derived lists, paths and config slices. Rules pass each job explicit files and only its
# own config slices (canonical JSON keyed by section), so that editing one config section reruns only the
# stages that read it.
import lingtrace.study as study
import lingtrace.warm as warm
from lingtrace.data.prepare import task_slice, world_slice
from lingtrace.data.sources import source_of
from lingtrace.layout import ANALYSIS_TABLES, FIGURES
from lingtrace.model.corpus import byte_fallback, check_corpus, corpus_kind, text_args, text_files
from lingtrace.settings import as_dict

study.check_study(config)
check_corpus(config)

TASKS = {task.name: task for task in study.task_list(config)}
CORPUS = corpus_kind(config["pretrain"], TASKS.values())  # babel, tasks or files (auto resolved)
SEEDS = study.seeds(config)
EPOCHS = study.epochs(config)
INFLUENCE_SEED = study.influence_seed(config)
INFLUENCE_SEEDS = study.influence_seeds(config)
INFLUENCE_CHECKPOINTS = study.influence_checkpoints(config)
REMOVAL_SEEDS = SEEDS[: config["removal"]["seeds"]]
LDS_SEED = SEEDS[0]
# jobs.per: run -> one job covers every seed of a run; seed -> one job per seed (and per gradient shard).
PER_RUN = config["jobs"]["per"] == "run"
SEED_SUFFIX = "" if PER_RUN else ".seed-{seed}"  # in the names of per-job files (logs, benchmarks, tables)
ENV = "../../envs/lingtrace.yaml"


def warm_jobs():
    """jobs.warm on a local run without software deployment: jobs fork from one warm process (lingtrace.warm)."""
    return config["jobs"]["warm"] and workflow.local_exec and not workflow.deployment_settings.deployment_method


onstart:
    if warm_jobs():
        warm.start("logs/warm.log")


onsuccess:
    warm.stop()


onerror:
    warm.stop()


RUN_PATTERN = r"joint|(without|mono|boost)-[A-Za-z][A-Za-z0-9_]*|remove-(tracin|random-\d+)|subset-\d+"


wildcard_constraints:
    task="|".join(TASKS),
    run=RUN_PATTERN,
    seed=r"\d+",
    epoch=r"\d+",
    split="train|test",
    shard=r"\d+",
    lang=r"[A-Za-z][A-Za-z0-9_]*",


def analysis_slice(*keys):
    """The analysis keys a job reads: editing another analysis key leaves it alone."""
    return {k: config["analysis"][k] for k in keys}


def as_params(**sections):
    """Config slices, keyed by section, as one canonical JSON string (tracked by Snakemake's params trigger)."""
    return study.canonical(sections)


def run_dir(task, run, seed):
    return f"results/{task}/{run}/seed-{seed}"


def checkpoint_dir(task, run, seed, epoch):
    return f"{run_dir(task, run, seed)}/checkpoints/epoch-{epoch}"


def job_runs(wildcards):
    """The runs one fine-tuning or evaluation job covers: its own, or (the LDS job per task) every subset run."""
    return [wildcards.run] if hasattr(wildcards, "run") else subset_runs(wildcards.task)


def job_pairs(wildcards):
    """(run, seed) of every pair one job covers: every seed of its run(s) (jobs.per: run) or its own seed."""
    if not PER_RUN:
        return [(wildcards.run, int(wildcards.seed))]
    return [(run, seed) for run in job_runs(wildcards) for seed in study.run_seeds(config, run)]


def job_outputs(pattern, seeds=SEEDS, **values):
    """``pattern`` expanded for one job: over ``seeds`` (jobs.per: run) or keeping the {seed} wildcard."""
    return expand(pattern, seed=seeds if PER_RUN else ["{seed}"], **values, allow_missing=True)


def subset_runs(task):
    return [run for run in task_runs(task) if run.startswith("subset-")]


def uses_tiny_model():
    return config["model"]["name_or_path"] is None


def model_source():
    """The directory (or hub name) fine-tuning starts from."""
    return "results/pretrain/model" if uses_tiny_model() else config["model"]["name_or_path"]


def corpus_inputs(wildcards):
    """The corpus' files: every task's train split (corpus tasks; never a test split) and the text files."""
    inputs = {"text": [path for paths in text_files(config["pretrain"]).values() for path in paths]}
    if CORPUS == "tasks":
        inputs["train"] = [f"results/{task}/data/train.parquet" for task in TASKS]
    return inputs


def corpus_args(wildcards, input):
    """The corpus stage's file arguments: --train SPLITS, --text LANG=PATH ..."""
    train = ["--train", *input.train] if "train" in input.keys() else []
    files = text_args(text_files(config["pretrain"]))
    return train + (["--text", *files] if files else [])


def corpus_params():
    """The babel world when the corpus holds its sentences."""
    return as_params(world=config.get("world")) if CORPUS == "babel" else as_params()


def tokenizer_params():
    settings = {k: v for k, v in config["tokenizer"].items() if k != "byte_fallback"}
    # The stage reads a left-out byte_fallback as off: babel studies keep the slice (and tokenizer) they had.
    if byte_fallback(config["tokenizer"], CORPUS):
        settings["byte_fallback"] = True
    return as_params(tokenizer=settings)


def pretrain_params():
    """What pretraining reads: the architecture, the pretrain settings but the corpus (an input file), the device."""
    pretrain = {k: v for k, v in config["pretrain"].items() if k not in ("corpus", "corpus_files")}
    return as_params(model={"arch": config["model"]["arch"]}, pretrain=pretrain,
                     study={"device": config["study"]["device"]})  # fmt: skip


def starting_model_settings():
    """The model keys fine-tuning reads; allow_pickle only when on, so that studies run before it
    existed keep their fine-tuning params (and their checkpoints)."""
    model = {"trust_remote_code": config["model"]["trust_remote_code"]}
    return {**model, "allow_pickle": True} if config["model"]["allow_pickle"] else model


def task_dict(name):
    return as_dict(TASKS[name])


def task_runs(task_name):
    return study.run_names(config, TASKS[task_name])


def data_params(wildcards, split):
    task = TASKS[wildcards.task]
    langs = source_of(task).languages(task, split, getattr(wildcards, "lang", None))
    world = world_slice(config.get("world"), langs) if task.source == "synthetic" else None
    return as_params(task=task_slice(task_dict(wildcards.task), split), world=world)


def gpu_jobs(device):
    """Scheduling label for SLURM and --resources: one GPU when the stage runs on CUDA."""
    return 1 if device == "cuda" else 0


def run_inputs(wildcards):
    """The training data a job's runs need: the pool, a boosted language's extra pool, a removal list
    (remove-*, without-random) or the LDS subsets (subset-*)."""
    inputs = {"train": f"results/{wildcards.task}/data/train.parquet"}
    kind, _, arg = job_runs(wildcards)[0].partition("-")
    if kind == "boost":
        inputs["extra"] = f"results/{wildcards.task}/data/extra-{arg}.parquet"
    if kind == "remove":
        inputs["removed"] = f"results/{wildcards.task}/removal/{arg}.parquet"
    if kind == "without" and arg == "random":
        inputs["removed"] = f"results/{wildcards.task}/removal/without-random.parquet"
    if kind == "subset":
        inputs["subsets"] = f"results/{wildcards.task}/lds/subsets.parquet"
    return inputs


def tiny_model_input():
    return {"model": "results/pretrain/model/model.safetensors"} if uses_tiny_model() else {}


def subset_checkpoint_files(name):
    """``name`` in every checkpoint of every LDS subset run of a task: the outputs of its one fine-tuning
    job (jobs.per: run); the subset count is the same for every task."""
    return [
        f"results/{{task}}/subset-{i}/seed-{LDS_SEED}/checkpoints/epoch-{e}/{name}"
        for i in range(config["lds"]["subsets"])
        for e in EPOCHS
    ]


def optional_arg(flag, name):
    """[flag, path] when the job has that input, else nothing (quoted in the shell with :q)."""
    return lambda wildcards, input: [flag, input[name]] if name in input.keys() else []


def job_checkpoints(wildcards):
    """Every checkpoint folder of the job's (run, seed) pairs, pair by pair."""
    return [checkpoint_dir(wildcards.task, r, s, e) for r, s in job_pairs(wildcards) for e in EPOCHS]


def evaluated_checkpoints(wildcards):
    """The checkpoints an evaluation job scores, pair by pair: every epoch of the analysed runs (the
    progression over checkpoints reads them), the last epoch of the others (only their final model is
    compared)."""
    analysed = study.influence_runs(config, TASKS[wildcards.task])
    return [checkpoint_dir(wildcards.task, r, s, e) for r, s in job_pairs(wildcards)
            for e in (EPOCHS if r in analysed else EPOCHS[-1:])]  # fmt: skip


def evaluated_traces(wildcards):
    return [f"{folder}/trace.json" for folder in evaluated_checkpoints(wildcards)]


def evaluation_tables(task, kind):
    """The per-job evaluation tables of a task (kind: metrics or predictions)."""
    if not PER_RUN:
        return [f"results/{task}/metrics/{kind}/{run}.seed-{s}.parquet" for run in task_runs(task)
                for s in study.run_seeds(config, run)]  # fmt: skip
    tables = [f"results/{task}/metrics/{kind}/{run}.parquet" for run in task_runs(task) if not run.startswith("subset-")]
    return tables + ([f"results/{task}/metrics/{kind}/lds-subsets.parquet"] if subset_runs(task) else [])


def gradient_settings():
    """The slices a gradient dump depends on (shard layout and keep/temp are in the paths)."""
    return {
        "gradients": {k: v for k, v in config["gradients"].items() if k != "keep"},
        "finetune": {"max_length": config["finetune"]["max_length"]},
        "study": {"device": config["study"]["device"]},
    }


def gradient_shard(path):
    return path if config["gradients"]["keep"] else temp(path)


def grad_path(task, run, seed, epoch, split, shard):
    return f"{run_dir(task, run, seed)}/grads/epoch-{epoch}/{split}/shard-{shard}.parquet"


def shard_ids(split):
    return list(range(config["gradients"]["shards"][split]))


def dump_units(split):
    """(seed, epoch, split, shard) of every gradient file one per-run dump job of ``split`` writes (a job
    per split, so that a new test language leaves the train gradients alone)."""
    return [
        (seed, epoch, split, shard)
        for seed in INFLUENCE_SEEDS
        for epoch in INFLUENCE_CHECKPOINTS
        for shard in shard_ids(split)
    ]


def dump_outputs(split):
    """The gradient files of one dump job of ``split``: every influence seed, checkpoint and shard of a run
    (jobs.per: run), or one file with the seed, epoch and shard as wildcards (jobs.per: seed)."""
    if not PER_RUN:
        return [gradient_shard(f"results/{{task}}/{{run}}/seed-{{seed}}/grads/epoch-{{epoch}}/{split}/shard-{{shard}}.parquet")]
    return [gradient_shard(grad_path("{task}", "{run}", *unit)) for unit in dump_units(split)]


def dump_args(wildcards, split):
    """Checkpoint, split, shard and output of each dump of a job, in the order of its outputs."""
    if PER_RUN:
        units = dump_units(split)
    else:
        units = [(wildcards.seed, wildcards.epoch, split, wildcards.shard)]
    return {
        "checkpoints": [checkpoint_dir(wildcards.task, wildcards.run, s, e) for s, e, _, _ in units],
        "splits": [split for _, _, split, _ in units],
        "shards": [shard for _, _, _, shard in units],
        "outs": [grad_path(wildcards.task, wildcards.run, *unit) for unit in units],
    }


def dump_inputs(wildcards, split):
    """The checkpoints a dump job reads, and the data of its split (a run's training rows, or the test split)."""
    if split == "train":
        inputs = run_inputs(wildcards)
        inputs["data"] = inputs.pop("train")
    else:
        inputs = {"data": f"results/{wildcards.task}/data/test.parquet"}
    inputs["weights"] = [f"{c}/model.safetensors" for c in sorted(set(dump_args(wildcards, split)["checkpoints"]))]
    inputs["traces"] = [w.replace("model.safetensors", "trace.json") for w in inputs["weights"]]
    return inputs


def score_files(wildcards, split, shards):
    """Gradient files of one seed, checkpoint by checkpoint, each checkpoint's shards in order."""
    return [
        grad_path(wildcards.task, wildcards.run, wildcards.seed, epoch, split, shard)
        for epoch in INFLUENCE_CHECKPOINTS
        for shard in shards
    ]


def influence_params():
    return as_params(influence={k: v for k, v in config["influence"].items() if k not in ("runs", "test_per_lang")})


def analysed_pairs(task):
    """(run, seed) of every analysed run and TracIn seed of a task, run by run."""
    return [(run, seed) for run in study.influence_runs(config, TASKS[task]) for seed in INFLUENCE_SEEDS]


def influence_tables(task, table):
    """``table`` (topk or lang_scores) of every analysed (run, seed), in analysed_pairs order."""
    return [f"{run_dir(task, run, seed)}/influence/{table}.parquet" for run, seed in analysed_pairs(task)]


def baseline_inputs(task):
    """The surface baselines the analyses set beside TracIn: the TF-IDF retriever and word overlap."""
    return {
        "baseline_topk": f"results/{task}/baselines/tfidf_topk.parquet",
        "overlap": f"results/{task}/baselines/word_overlap.parquet",
    }


def study_outputs():
    """What `snakemake` with no target builds: the summary, figures and example pages, the tokenizer's
    unknown-token rates (tiny encoder), and every checkpoint file."""
    unknown = [f"results/{task}/metrics/unknown_tokens.csv" for task in TASKS] if uses_tiny_model() else []
    return ["results/summary.json", "results/summary.md"] + report_outputs() + unknown + checkpoint_files()


CHECKPOINT_FILES = ("trace.json", "model.safetensors", "tokenizer.json")


def checkpoint_files():
    """Every file of every checkpoint, as targets: Snakemake checks an intermediate file only when a
    job that reads it has to run, so only a target's missing file makes `snakemake -n` plan its job."""
    return [
        f"{checkpoint_dir(task, run, seed, epoch)}/{name}"
        for task in TASKS
        for run in task_runs(task)
        for seed in study.run_seeds(config, run)
        for epoch in EPOCHS
        for name in CHECKPOINT_FILES
    ]


def planted_input(task):
    """The planted similarity of babel tasks (none for real data)."""
    return f"results/{task}/data/planted_similarity.parquet" if TASKS[task].source == "synthetic" else []


def analysis_tables(task, names=ANALYSIS_TABLES, ext="parquet"):
    return [f"results/{task}/tables/{name}.{ext}" for name in names]


def validation_inputs(wildcards):
    inputs = {
        "metrics": f"results/{wildcards.task}/metrics/accuracy.parquet",
        "predictions": f"results/{wildcards.task}/metrics/predictions.parquet",
        "test": f"results/{wildcards.task}/data/test.parquet",
        "language_shares": f"results/{wildcards.task}/tables/language_shares.parquet",
    }
    if study.task_runs(config, TASKS[wildcards.task])["removal"]:
        inputs["sample"] = f"results/{wildcards.task}/removal/sample.parquet"
    return inputs


def report_params(task, report_keys):
    """What a report page or figure depends on: some report keys, the headline variant and k, the task."""
    return as_params(
        analysis=analysis_slice("variant", "headline_k"),
        task={k: task_dict(task)[k] for k in ("name", "source", "train_langs")},
        **{"report": {k: config["report"][k] for k in report_keys}},  # `report=` is a Snakemake keyword here
    )


def summary_pieces(task):
    """The JSON pieces of a task's summary: the analyses, the validation and (with runs.lds) the LDS."""
    pieces = [f"results/{task}/analysis.json", f"results/{task}/validation.json"]
    if study.task_runs(config, TASKS[task])["lds"]:
        pieces.append(f"results/{task}/lds.json")
    return pieces


def figure_files(task):
    return [f"results/{task}/figures/{name}.{ext}" for name in FIGURES for ext in ("png", "svg")]


def report_outputs():
    return [f"results/{task}/examples.html" for task in TASKS] + [f for task in TASKS for f in figure_files(task)]

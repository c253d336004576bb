# Fine-tuning: one rule for every run (joint, without-L, without-random, mono-L, boost-L, remove-*,
# subset-*), then its evaluation, merged per task. A job covers every seed of a run (jobs.per: run; the
# LDS's subset runs in one job per task) or one run and seed (jobs.per: seed).

CHECKPOINT = "results/{task}/{run}/seed-{seed}/checkpoints/epoch-{epoch}"
REGULAR_RUNS = r"joint|(without|mono|boost)-[A-Za-z][A-Za-z0-9_]*"


rule finetune:
    input:
        unpack(lambda wc: {**run_inputs(wc), **tiny_model_input()}),
    output:
        traces=job_outputs(f"{CHECKPOINT}/trace.json", epoch=EPOCHS),
        weights=job_outputs(f"{CHECKPOINT}/model.safetensors", epoch=EPOCHS),
        tokenizers=job_outputs(f"{CHECKPOINT}/tokenizer.json", epoch=EPOCHS),
    wildcard_constraints:
        run=REGULAR_RUNS if PER_RUN else RUN_PATTERN,
    params:
        cfg=lambda wc: as_params(
            task=task_slice(task_dict(wc.task), "train"),
            finetune={k: v for k, v in config["finetune"].items() if k != "eval_batch_size"},
            study={"device": config["study"]["device"]},
            model=starting_model_settings(),
        ),
        model=model_source(),
        runs=lambda wc: [r for r, _ in job_pairs(wc)],
        seeds=lambda wc: [s for _, s in job_pairs(wc)],
        checkpoints=job_checkpoints,
        extra=optional_arg("--extra", "extra"),
        removed=optional_arg("--removed", "removed"),
        subsets=optional_arg("--subsets", "subsets"),
    threads: config["study"]["threads"]
    resources:
        gpu=gpu_jobs(config["study"]["device"]),
        runtime=120,
    log:
        f"logs/{{task}}/finetune/{{run}}{SEED_SUFFIX}.log",
    benchmark:
        f"results/benchmarks/finetune/{{task}}/{{run}}{SEED_SUFFIX}.tsv"
    conda:
        ENV
    shell:
        "lingtrace finetune --params {params.cfg:q} --threads {threads} --train {input.train:q} --model {params.model:q}"
        " --run {params.runs:q} --seed {params.seeds} --checkpoints {params.checkpoints:q}"
        " {params.extra:q} {params.removed:q} {params.subsets:q} > {log:q} 2>&1"


if PER_RUN:

    use rule finetune as finetune_removal with:
        output:
            traces=job_outputs(f"{CHECKPOINT}/trace.json", seeds=REMOVAL_SEEDS, epoch=EPOCHS),
            weights=job_outputs(f"{CHECKPOINT}/model.safetensors", seeds=REMOVAL_SEEDS, epoch=EPOCHS),
            tokenizers=job_outputs(f"{CHECKPOINT}/tokenizer.json", seeds=REMOVAL_SEEDS, epoch=EPOCHS),
        wildcard_constraints:
            run=r"remove-(tracin|random-\d+)",

    use rule finetune as finetune_subsets with:
        output:
            traces=subset_checkpoint_files("trace.json"),
            weights=subset_checkpoint_files("model.safetensors"),
            tokenizers=subset_checkpoint_files("tokenizer.json"),
        log:
            "logs/{task}/finetune/lds-subsets.log",
        benchmark:
            "results/benchmarks/finetune/{task}/lds-subsets.tsv"


rule evaluate:
    input:
        test="results/{task}/data/test.parquet",
        traces=evaluated_traces,
    output:
        metrics=f"results/{{task}}/metrics/metrics/{{run}}{SEED_SUFFIX}.parquet",
        predictions=f"results/{{task}}/metrics/predictions/{{run}}{SEED_SUFFIX}.parquet",
    params:
        cfg=lambda wc: as_params(
            task=task_slice(task_dict(wc.task), "test"),
            finetune={k: config["finetune"][k] for k in ("max_length", "eval_batch_size")},
            study={"device": config["study"]["device"]},
        ),
        runs=lambda wc: [r for r, _ in job_pairs(wc)],
        seeds=lambda wc: [s for _, s in job_pairs(wc)],
        checkpoints=evaluated_checkpoints,
    threads: config["study"]["threads"]
    resources:
        gpu=gpu_jobs(config["study"]["device"]),
    log:
        f"logs/{{task}}/evaluate/{{run}}{SEED_SUFFIX}.log",
    benchmark:
        f"results/benchmarks/evaluate/{{task}}/{{run}}{SEED_SUFFIX}.tsv"
    conda:
        ENV
    shell:
        "lingtrace evaluate --params {params.cfg:q} --threads {threads} --test {input.test:q} --run {params.runs:q}"
        " --seed {params.seeds} --checkpoints {params.checkpoints:q} --out {output.metrics:q}"
        " --predictions {output.predictions:q} > {log:q} 2>&1"


if PER_RUN:

    use rule evaluate as evaluate_subsets with:
        output:
            metrics="results/{task}/metrics/metrics/lds-subsets.parquet",
            predictions="results/{task}/metrics/predictions/lds-subsets.parquet",
        log:
            "logs/{task}/evaluate/lds-subsets.log",
        benchmark:
            "results/benchmarks/evaluate/{task}/lds-subsets.tsv"


rule merge_metrics:
    input:
        metrics=lambda wc: evaluation_tables(wc.task, "metrics"),
        predictions=lambda wc: evaluation_tables(wc.task, "predictions"),
    output:
        metrics="results/{task}/metrics/accuracy.parquet",
        csv="results/{task}/metrics/accuracy.csv",
        predictions="results/{task}/metrics/predictions.parquet",
    log:
        "logs/{task}/merge_metrics.log",
    benchmark:
        "results/benchmarks/merge_metrics/{task}.tsv"
    conda:
        ENV
    shell:
        "(lingtrace merge-metrics --csv --inputs {input.metrics:q} --out {output.metrics:q}"
        " && lingtrace merge-metrics --inputs {input.predictions:q} --out {output.predictions:q}) > {log:q} 2>&1"

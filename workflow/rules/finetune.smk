# Fine-tuning: one rule for every run (joint, without-L, mono-L, boost-L, remove-*), then its evaluation.
# A job covers every seed of a run (jobs.per: run) or one seed (jobs.per: seed).


rule finetune:
    input:
        unpack(finetune_inputs),
    output:
        traces=job_outputs("results/{task}/{run}/seed-{seed}/checkpoints/epoch-{epoch}/trace.json", epoch=EPOCHS),
        weights=job_outputs(
            "results/{task}/{run}/seed-{seed}/checkpoints/epoch-{epoch}/model.safetensors", epoch=EPOCHS
        ),
        tokenizers=job_outputs(
            "results/{task}/{run}/seed-{seed}/checkpoints/epoch-{epoch}/tokenizer.json", epoch=EPOCHS
        ),
    params:
        cfg=lambda wc: as_params(
            task=task_slice(task_dict(wc.task), "train"),
            finetune={k: v for k, v in config["finetune"].items() if k != "eval_batch_size"},
            study={"device": config["study"]["device"]},
            model=starting_model_settings(),
        ),
        model=model_source(),
        runs=lambda wc: [wc.run] * len(job_seeds(wc)),
        seeds=job_seeds,
        checkpoints=job_checkpoints,
        extra=optional_arg("--extra", "extra"),
        removed=optional_arg("--removed", "removed"),
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
        " {params.extra:q} {params.removed:q} > {log:q} 2>&1"


rule evaluate:
    input:
        test="results/{task}/data/test.parquet",
        traces=job_traces,
    output:
        metrics=f"results/{{task}}/metrics/metrics/{{run}}{SEED_SUFFIX}.parquet",
        predictions=f"results/{{task}}/metrics/predictions/{{run}}{SEED_SUFFIX}.parquet",
    params:
        cfg=lambda wc: as_params(
            task=task_slice(task_dict(wc.task), "test"),
            finetune={k: config["finetune"][k] for k in ("max_length", "eval_batch_size")},
            study={"device": config["study"]["device"]},
        ),
        runs=lambda wc: [wc.run] * len(job_seeds(wc)),
        seeds=job_seeds,
        checkpoints=job_checkpoints,
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

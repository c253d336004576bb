# Fine-tuning: one rule for every run (joint, without-L, mono-L, boost-L, remove-*) and seed,
# then one evaluation job per task over every checkpoint.


rule finetune:
    input:
        unpack(finetune_inputs),
    output:
        traces=expand("results/{{task}}/{{run}}/seed-{{seed}}/checkpoints/epoch-{epoch}/trace.json", epoch=EPOCHS),
        weights=expand(
            "results/{{task}}/{{run}}/seed-{{seed}}/checkpoints/epoch-{epoch}/model.safetensors", epoch=EPOCHS
        ),
    params:
        cfg=lambda wc: as_params(
            task=task_slice(TASKS[wc.task], "train"),
            finetune={**config["finetune"], "device": finetune_device()},
            trust_remote_code=config["model"]["trust_remote_code"],
        ),
        model=model_source(),
        run_dir=lambda wc: run_dir(wc.task, wc.run, wc.seed),
        extra=optional_arg("--extra", "extra"),
        removed=optional_arg("--removed", "removed"),
        threads=THREADS,
    threads: THREADS
    resources:
        gpu=gpu_jobs(finetune_device()),
        runtime=120,
    log:
        "logs/{task}/finetune/{run}/seed-{seed}.log",
    benchmark:
        "results/benchmarks/finetune/{task}-{run}-seed-{seed}.tsv"
    conda:
        ENV
    shell:
        "lingtrace finetune --params {params.cfg:q} --threads {params.threads} --train {input.train:q}"
        " --model {params.model:q} --run {wildcards.run:q} --seed {wildcards.seed} --run-dir {params.run_dir:q}"
        " {params.extra:q} {params.removed:q} > {log:q} 2>&1"


rule evaluate:
    input:
        test="results/{task}/data/test.parquet",
        traces=task_checkpoints,
    output:
        table="results/{task}/metrics/accuracy.parquet",
        csv="results/{task}/metrics/accuracy.csv",
        predictions="results/{task}/metrics/predictions.parquet",
    params:
        cfg=lambda wc: as_params(
            task=task_slice(TASKS[wc.task], "test"),
            finetune={k: config["finetune"][k] for k in ("max_length", "eval_batch_size")},
            device=finetune_device(),
        ),
        checkpoints=checkpoint_args,
        threads=THREADS,
    threads: THREADS
    resources:
        gpu=gpu_jobs(finetune_device()),
    log:
        "logs/{task}/evaluate.log",
    benchmark:
        "results/benchmarks/evaluate/{task}.tsv"
    conda:
        ENV
    shell:
        "lingtrace evaluate --params {params.cfg:q} --threads {params.threads} --test {input.test:q}"
        " --checkpoint {params.checkpoints:q} --out {output.table:q} --predictions {output.predictions:q} > {log:q} 2>&1"

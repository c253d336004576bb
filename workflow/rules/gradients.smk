# Per-example gradients of the analysed runs (first seed), one job per checkpoint, split and shard.


rule dump_gradients:
    input:
        unpack(gradient_inputs),
    output:
        gradient_shard("results/{task}/{run}/seed-{seed}/grads/epoch-{epoch}/{split}/shard-{shard}.parquet"),
    params:
        cfg=lambda wc: as_params(
            gradients=gradient_settings(),
            task=task_slice(TASKS[wc.task], "train"),
            test_per_lang=config["influence"]["test_per_lang"] if wc.split == "test" else None,
        ),
        checkpoint=lambda wc: f"{run_dir(wc.task, wc.run, wc.seed)}/checkpoints/epoch-{wc.epoch}",
        shards=lambda wc: config["gradients"]["shards"][wc.split],
        extra=optional_arg("--extra", "extra"),
        removed=optional_arg("--removed", "removed"),
        threads=THREADS,
    threads: THREADS
    resources:
        gpu=gpu_jobs(config["study"]["device"]),
        runtime=60,
    log:
        "logs/{task}/grads/{run}/seed-{seed}/epoch-{epoch}-{split}-{shard}.log",
    benchmark:
        "results/benchmarks/dump_gradients/{task}-{run}-seed-{seed}-epoch-{epoch}-{split}-{shard}.tsv"
    conda:
        ENV
    shell:
        "lingtrace dump-gradients --params {params.cfg:q} --threads {params.threads} --checkpoint {params.checkpoint:q}"
        " --data {input.data:q} --split {wildcards.split:q} --run {wildcards.run:q} --shard {wildcards.shard}"
        " --shards {params.shards} {params.extra:q} {params.removed:q} --out {output:q} > {log:q} 2>&1"

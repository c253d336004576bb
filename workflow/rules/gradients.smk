# Per-example gradients of the analysed runs: one job per run (every influence seed, checkpoint, split and
# shard; jobs.per: run) or one per seed, checkpoint, split and shard (jobs.per: seed).

if PER_RUN:
    DUMP_OUTPUTS = [
        gradient_shard(f"results/{{task}}/{{run}}/seed-{s}/grads/epoch-{e}/{split}/shard-{i}.parquet")
        for s, e, split, i in dump_units()
    ]
    DUMP_JOB = "{run}"
else:
    DUMP_OUTPUTS = [gradient_shard("results/{task}/{run}/seed-{seed}/grads/epoch-{epoch}/{split}/shard-{shard}.parquet")]
    DUMP_JOB = "{run}/seed-{seed}/epoch-{epoch}-{split}-{shard}"


rule dump_gradients:
    input:
        unpack(dump_inputs),
    output:
        DUMP_OUTPUTS,
    params:
        cfg=lambda wc: as_params(
            task=task_slice(task_dict(wc.task), "train"),
            influence={"test_per_lang": config["influence"]["test_per_lang"]},
            **gradient_settings(),
        ),
        checkpoints=lambda wc: dump_args(wc)["checkpoints"],
        splits=lambda wc: dump_args(wc)["splits"],
        shards=lambda wc: dump_args(wc)["shards"],
        outs=lambda wc: dump_args(wc)["outs"],
        extra=optional_arg("--extra", "extra"),
        removed=optional_arg("--removed", "removed"),
    threads: config["study"]["threads"]
    resources:
        gpu=gpu_jobs(config["study"]["device"]),
        runtime=60,
    log:
        f"logs/{{task}}/grads/{DUMP_JOB}.log",
    benchmark:
        f"results/benchmarks/dump_gradients/{{task}}/{DUMP_JOB}.tsv"
    conda:
        ENV
    shell:
        "lingtrace dump-gradients --params {params.cfg:q} --threads {threads} --run {wildcards.run:q}"
        " --train {input.train:q} --test {input.test:q} --checkpoint {params.checkpoints:q} --split {params.splits:q}"
        " --shard {params.shards} --out {params.outs:q} {params.extra:q} {params.removed:q} > {log:q} 2>&1"

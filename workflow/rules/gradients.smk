# Per-example gradients of the analysed runs: one job per run and split (every influence seed, checkpoint
# and shard; jobs.per: run) or one per seed, checkpoint, split and shard (jobs.per: seed). Train and test
# dumps are separate jobs, so that a new test language leaves the train gradients alone.

DUMP_JOB = "{run}" if PER_RUN else "{run}/seed-{seed}/epoch-{epoch}-{shard}"


rule dump_train_gradients:
    input:
        unpack(lambda wc: dump_inputs(wc, "train")),
    output:
        dump_outputs("train"),
    params:
        cfg=lambda wc: as_params(
            task=task_slice(task_dict(wc.task), "train"),
            influence={"test_per_lang": config["influence"]["test_per_lang"]},
            **gradient_settings(),
        ),
        args=lambda wc: dump_args(wc, "train"),
        extra=optional_arg("--extra", "extra"),
    threads: config["study"]["threads"]
    resources:
        gpu=gpu_jobs(config["study"]["device"]),
        runtime=60,
    log:
        f"logs/{{task}}/grads/train/{DUMP_JOB}.log",
    benchmark:
        f"results/benchmarks/dump_gradients/{{task}}/train/{DUMP_JOB}.tsv"
    conda:
        ENV
    shell:
        "lingtrace dump-gradients --params {params.cfg:q} --threads {threads} --run {wildcards.run:q}"
        " --data {input.data:q} --checkpoint {params.args[checkpoints]:q} --split {params.args[splits]:q}"
        " --shard {params.args[shards]} --out {params.args[outs]:q} {params.extra:q} > {log:q} 2>&1"


use rule dump_train_gradients as dump_test_gradients with:
    input:
        unpack(lambda wc: dump_inputs(wc, "test")),
    output:
        dump_outputs("test"),
    params:
        cfg=lambda wc: as_params(
            task=task_slice(task_dict(wc.task), "train"),
            influence={"test_per_lang": config["influence"]["test_per_lang"]},
            **gradient_settings(),
        ),
        args=lambda wc: dump_args(wc, "test"),
        extra=[],
    log:
        f"logs/{{task}}/grads/test/{DUMP_JOB}.log",
    benchmark:
        f"results/benchmarks/dump_gradients/{{task}}/test/{DUMP_JOB}.tsv"

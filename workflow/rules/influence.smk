# TracIn scoring: train gradient shards against every test example and checkpoint, merged exactly.
# jobs.per: run scores every train shard of a seed in one job; jobs.per: seed one job per train shard,
# then a merge job.

if PER_RUN:

    rule score:
        input:
            train=lambda wc: score_files(wc, "train", shard_ids("train")),
            test=lambda wc: score_files(wc, "test", shard_ids("test")),
        output:
            topk="results/{task}/{run}/seed-{seed}/influence/topk.parquet",
            lang="results/{task}/{run}/seed-{seed}/influence/lang_scores.parquet",
        params:
            cfg=influence_params(),
            epochs=INFLUENCE_CHECKPOINTS,
        threads: config["study"]["threads"]
        resources:
            gpu=gpu_jobs(config["influence"]["device"]),
            runtime=60,
        log:
            "logs/{task}/influence/{run}/seed-{seed}.log",
        benchmark:
            "results/benchmarks/score/{task}/{run}/seed-{seed}.tsv"
        conda:
            ENV
        shell:
            "lingtrace score --params {params.cfg:q} --threads {threads} --epoch {params.epochs} --train {input.train:q}"
            " --test {input.test:q} --out-topk {output.topk:q} --out-lang {output.lang:q} > {log:q} 2>&1"

else:

    rule score_shard:
        input:
            train=lambda wc: score_files(wc, "train", [wc.shard]),
            test=lambda wc: score_files(wc, "test", shard_ids("test")),
        output:
            topk="results/{task}/{run}/seed-{seed}/influence/shards/shard-{shard}.topk.parquet",
            lang="results/{task}/{run}/seed-{seed}/influence/shards/shard-{shard}.lang.parquet",
        params:
            cfg=influence_params(),
            epochs=INFLUENCE_CHECKPOINTS,
        threads: config["study"]["threads"]
        resources:
            gpu=gpu_jobs(config["influence"]["device"]),
            runtime=60,
        log:
            "logs/{task}/influence/{run}/seed-{seed}/shard-{shard}.log",
        benchmark:
            "results/benchmarks/score_shard/{task}/{run}/seed-{seed}/shard-{shard}.tsv"
        conda:
            ENV
        shell:
            "lingtrace score --params {params.cfg:q} --threads {threads} --epoch {params.epochs} --train {input.train:q}"
            " --test {input.test:q} --out-topk {output.topk:q} --out-lang {output.lang:q} > {log:q} 2>&1"

    rule merge_influence:
        input:
            topk=expand(
                "results/{{task}}/{{run}}/seed-{{seed}}/influence/shards/shard-{shard}.topk.parquet",
                shard=shard_ids("train"),
            ),
            lang=expand(
                "results/{{task}}/{{run}}/seed-{{seed}}/influence/shards/shard-{shard}.lang.parquet",
                shard=shard_ids("train"),
            ),
        output:
            topk="results/{task}/{run}/seed-{seed}/influence/topk.parquet",
            lang="results/{task}/{run}/seed-{seed}/influence/lang_scores.parquet",
        params:
            cfg=as_params(influence={"top_k": config["influence"]["top_k"]}),
        log:
            "logs/{task}/influence/{run}/seed-{seed}/merge.log",
        benchmark:
            "results/benchmarks/merge_influence/{task}/{run}/seed-{seed}.tsv"
        conda:
            ENV
        shell:
            "lingtrace merge-influence --params {params.cfg:q} --topk {input.topk:q} --lang {input.lang:q}"
            " --out-topk {output.topk:q} --out-lang {output.lang:q} > {log:q} 2>&1"

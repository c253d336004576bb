# TracIn scoring: each train shard against every test example and checkpoint, then an exact merge.


rule score_shard:
    input:
        train=lambda wc: gradient_paths(wc, "train", [wc.shard]),
        test=lambda wc: gradient_paths(wc, "test", range(config["gradients"]["shards"]["test"])),
    output:
        topk="results/{task}/{run}/seed-{seed}/influence/shards/shard-{shard}.topk.parquet",
        lang="results/{task}/{run}/seed-{seed}/influence/shards/shard-{shard}.lang.parquet",
    params:
        cfg=as_params(**{k: v for k, v in config["influence"].items() if k not in ("runs", "test_per_lang")}),
        threads=THREADS,
    threads: THREADS
    resources:
        gpu=gpu_jobs(config["influence"]["device"]),
        runtime=60,
    log:
        "logs/{task}/influence/{run}/seed-{seed}/shard-{shard}.log",
    benchmark:
        "results/benchmarks/score_shard/{task}-{run}-seed-{seed}-{shard}.tsv"
    conda:
        ENV
    shell:
        "lingtrace score-shard --params {params.cfg:q} --threads {params.threads} --train {input.train:q}"
        " --test {input.test:q} --out-topk {output.topk:q} --out-lang {output.lang:q} > {log:q} 2>&1"


rule merge_influence:
    input:
        topk=expand(
            "results/{{task}}/{{run}}/seed-{{seed}}/influence/shards/shard-{shard}.topk.parquet",
            shard=range(config["gradients"]["shards"]["train"]),
        ),
        lang=expand(
            "results/{{task}}/{{run}}/seed-{{seed}}/influence/shards/shard-{shard}.lang.parquet",
            shard=range(config["gradients"]["shards"]["train"]),
        ),
    output:
        topk="results/{task}/{run}/seed-{seed}/influence/topk.parquet",
        lang="results/{task}/{run}/seed-{seed}/influence/lang_scores.parquet",
    params:
        top_k=config["influence"]["top_k"],
    log:
        "logs/{task}/influence/{run}/seed-{seed}/merge.log",
    benchmark:
        "results/benchmarks/merge_influence/{task}-{run}-seed-{seed}.tsv"
    conda:
        ENV
    shell:
        "lingtrace merge-influence --top-k {params.top_k} --topk {input.topk:q} --lang {input.lang:q}"
        " --out-topk {output.topk:q} --out-lang {output.lang:q} > {log:q} 2>&1"

# Validation by retraining: the language ablation (with its without-random control), the removal test of
# TracIn's top proponents (with matched random draws), and the linear datamodeling score (LDS).


rule control_set:
    input:
        train="results/{task}/data/train.parquet",
    output:
        "results/{task}/removal/without-random.parquet",
    params:
        cfg=lambda wc: as_params(removal={"seed": config["removal"]["seed"]},
                                 task={"train_langs": list(TASKS[wc.task].train_langs)}),
    log:
        "logs/{task}/control_set.log",
    benchmark:
        "results/benchmarks/control_set/{task}.tsv"
    conda:
        ENV
    shell:
        "lingtrace control-set --params {params.cfg:q} --train {input.train:q} --out {output:q} > {log:q} 2>&1"


rule removal_sets:
    input:
        topk=lambda wc: [f"{run_dir(wc.task, 'joint', s)}/influence/topk.parquet" for s in REMOVAL_SEEDS],
        train="results/{task}/data/train.parquet",
    output:
        sample="results/{task}/removal/sample.parquet",
        tracin="results/{task}/removal/tracin.parquet",
        random=expand("results/{{task}}/removal/random-{draw}.parquet", draw=range(config["removal"]["draws"])),
    params:
        cfg=lambda wc: as_params(removal=config["removal"], task={"train_langs": list(TASKS[wc.task].train_langs)}),
        seeds=REMOVAL_SEEDS,
    log:
        "logs/{task}/removal_sets.log",
    benchmark:
        "results/benchmarks/removal_sets/{task}.tsv"
    conda:
        ENV
    shell:
        "lingtrace removal-sets --params {params.cfg:q} --topk {input.topk:q} --seed {params.seeds} --train {input.train:q}"
        " --out-sample {output.sample:q} --out-tracin {output.tracin:q} --out-random {output.random:q} > {log:q} 2>&1"


rule lds_subsets:
    input:
        train="results/{task}/data/train.parquet",
    output:
        "results/{task}/lds/subsets.parquet",
    params:
        cfg=as_params(lds=config["lds"]),
    log:
        "logs/{task}/lds_subsets.log",
    benchmark:
        "results/benchmarks/lds_subsets/{task}.tsv"
    conda:
        ENV
    shell:
        "lingtrace lds-subsets --params {params.cfg:q} --train {input.train:q} --out {output:q} > {log:q} 2>&1"


rule score_subsets:
    input:
        train=lambda wc: score_files(wc, "train", shard_ids("train")),
        test=lambda wc: score_files(wc, "test", shard_ids("test")),
        subsets="results/{task}/lds/subsets.parquet",
    output:
        "results/{task}/{run}/seed-{seed}/influence/subset_scores.parquet",
    params:
        cfg=influence_params(),
        epochs=INFLUENCE_CHECKPOINTS,
    threads: config["study"]["threads"]
    log:
        "logs/{task}/influence/{run}/seed-{seed}.subsets.log",
    benchmark:
        "results/benchmarks/score_subsets/{task}/{run}/seed-{seed}.tsv"
    conda:
        ENV
    shell:
        "lingtrace score-subsets --params {params.cfg:q} --threads {threads} --epoch {params.epochs} --train {input.train:q}"
        " --test {input.test:q} --subsets {input.subsets:q} --out {output:q} > {log:q} 2>&1"


rule lds:
    input:
        scores=expand("results/{{task}}/joint/seed-{seed}/influence/subset_scores.parquet", seed=INFLUENCE_SEEDS),
        subsets="results/{task}/lds/subsets.parquet",
        predictions="results/{task}/metrics/predictions.parquet",
        train="results/{task}/data/train.parquet",
        test="results/{task}/data/test.parquet",
    output:
        table="results/{task}/tables/lds.parquet",
        csv="results/{task}/tables/lds.csv",
        summary="results/{task}/lds.json",
    params:
        cfg=lambda wc: as_params(analysis=analysis_slice("bootstrap", "confidence", "seed"), lds=config["lds"],
                                 task=task_dict(wc.task)),
    log:
        "logs/{task}/lds.log",
    benchmark:
        "results/benchmarks/lds/{task}.tsv"
    conda:
        ENV
    shell:
        "lingtrace lds --params {params.cfg:q} --scores {input.scores:q} --subsets {input.subsets:q}"
        " --predictions {input.predictions:q} --train {input.train:q} --test {input.test:q} --out {output.table:q}"
        " --out-json {output.summary:q} > {log:q} 2>&1"


rule validate:
    input:
        unpack(validation_inputs),
    output:
        ablation="results/{task}/tables/ablation.parquet",
        ablation_csv="results/{task}/tables/ablation.csv",
        ablation_loss="results/{task}/tables/ablation_loss.parquet",
        ablation_loss_csv="results/{task}/tables/ablation_loss.csv",
        mono="results/{task}/tables/mono.parquet",
        mono_csv="results/{task}/tables/mono.csv",
        removal="results/{task}/tables/removal_effects.parquet",
        removal_csv="results/{task}/tables/removal_effects.csv",
        summary="results/{task}/validation.json",
    params:
        cfg=lambda wc: as_params(
            analysis=analysis_slice("bootstrap", "confidence", "seed", "variant", "headline_k"), task=task_dict(wc.task)
        ),
        sample=optional_arg("--sample", "sample"),
    log:
        "logs/{task}/validate.log",
    benchmark:
        "results/benchmarks/validate/{task}.tsv"
    conda:
        ENV
    shell:
        "lingtrace validate --params {params.cfg:q} --metrics {input.metrics:q} --predictions {input.predictions:q}"
        " --test {input.test:q} --language-shares {input.language_shares:q} {params.sample:q}"
        " --out-ablation {output.ablation:q} --out-ablation-loss {output.ablation_loss:q} --out-mono {output.mono:q}"
        " --out-removal {output.removal:q} --out-json {output.summary:q} > {log:q} 2>&1"

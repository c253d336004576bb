# Validation: language ablation against joint, and the removal test of TracIn's top proponents.


rule removal_sets:
    input:
        topk=f"results/{{task}}/joint/seed-{INFLUENCE_SEED}/influence/topk.parquet",
        train="results/{task}/data/train.parquet",
    output:
        sample="results/{task}/removal/sample.parquet",
        tracin="results/{task}/removal/tracin.parquet",
        random="results/{task}/removal/random.parquet",
    params:
        cfg=lambda wc: as_params(removal=config["removal"], task={"train_langs": list(TASKS[wc.task].train_langs)}),
    log:
        "logs/{task}/removal_sets.log",
    benchmark:
        "results/benchmarks/removal_sets/{task}.tsv"
    conda:
        ENV
    shell:
        "lingtrace removal-sets --params {params.cfg:q} --topk {input.topk:q} --train {input.train:q}"
        " --out-sample {output.sample:q} --out-tracin {output.tracin:q} --out-random {output.random:q} > {log:q} 2>&1"


rule validate:
    input:
        unpack(validation_inputs),
    output:
        ablation="results/{task}/tables/ablation.parquet",
        ablation_csv="results/{task}/tables/ablation.csv",
        mono="results/{task}/tables/mono.parquet",
        mono_csv="results/{task}/tables/mono.csv",
        removal="results/{task}/tables/removal_effects.parquet",
        summary="results/{task}/validation.json",
    params:
        cfg=as_params(analysis={k: config["analysis"][k] for k in ("confidence", "variant", "headline_k")}),
        sample=optional_arg("--sample", "sample"),
    log:
        "logs/{task}/validate.log",
    benchmark:
        "results/benchmarks/validate/{task}.tsv"
    conda:
        ENV
    shell:
        "lingtrace validate --params {params.cfg:q} --metrics {input.metrics:q} --predictions {input.predictions:q}"
        " --influence-matrix {input.influence_matrix:q} --language-shares {input.language_shares:q} {params.sample:q}"
        " --out-ablation {output.ablation:q} --out-mono {output.mono:q} --out-removal {output.removal:q}"
        " --out-json {output.summary:q} > {log:q} 2>&1"

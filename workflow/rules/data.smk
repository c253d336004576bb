# Data: each task's splits as the data contract, plus the planted similarity of babel tasks.


rule prepare_data:
    output:
        "results/{task}/data/{split}.parquet",
    params:
        cfg=lambda wc: data_params(wc, wc.split),
    log:
        "logs/{task}/data/{split}.log",
    benchmark:
        "results/benchmarks/prepare_data/{task}-{split}.tsv"
    conda:
        ENV
    shell:
        "lingtrace data --params {params.cfg:q} --split {wildcards.split:q} --out {output:q} > {log:q} 2>&1"


rule prepare_extra:
    output:
        "results/{task}/data/extra-{lang}.parquet",
    params:
        cfg=lambda wc: data_params(wc, "extra"),
    log:
        "logs/{task}/data/extra-{lang}.log",
    benchmark:
        "results/benchmarks/prepare_extra/{task}-{lang}.tsv"
    conda:
        ENV
    shell:
        "lingtrace data --params {params.cfg:q} --split extra --lang {wildcards.lang:q} --out {output:q} > {log:q} 2>&1"


rule planted_similarity:
    output:
        "results/{task}/data/planted_similarity.parquet",
    params:
        cfg=lambda wc: as_params(world=world_slice(config["world"], TASKS[wc.task].test_langs)),
        langs=lambda wc: list(TASKS[wc.task].test_langs),
    log:
        "logs/{task}/data/planted_similarity.log",
    benchmark:
        "results/benchmarks/planted_similarity/{task}.tsv"
    conda:
        ENV
    shell:
        "lingtrace similarity --params {params.cfg:q} --langs {params.langs:q} --out {output:q} > {log:q} 2>&1"

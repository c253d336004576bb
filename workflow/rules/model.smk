# The tiny encoder (model.name_or_path: null): corpus, tokenizer, masked-LM pretraining.


rule corpus:
    output:
        "results/pretrain/corpus.parquet",
    params:
        cfg=as_params(world=config.get("world")),
    log:
        "logs/pretrain/corpus.log",
    benchmark:
        "results/benchmarks/corpus/corpus.tsv"
    conda:
        ENV
    shell:
        "lingtrace corpus --params {params.cfg:q} --out {output:q} > {log:q} 2>&1"


rule tokenizer:
    input:
        "results/pretrain/corpus.parquet",
    output:
        "results/pretrain/tokenizer/tokenizer.json",
    params:
        cfg=as_params(tokenizer=config["tokenizer"]),
        out=subpath(output[0], parent=True),
    log:
        "logs/pretrain/tokenizer.log",
    benchmark:
        "results/benchmarks/tokenizer/tokenizer.tsv"
    conda:
        ENV
    shell:
        "lingtrace tokenizer --params {params.cfg:q} --corpus {input:q} --out {params.out:q} > {log:q} 2>&1"


rule pretrain:
    input:
        corpus="results/pretrain/corpus.parquet",
        tokenizer="results/pretrain/tokenizer/tokenizer.json",
    output:
        "results/pretrain/model/model.safetensors",
    params:
        cfg=as_params(model={"arch": config["model"]["arch"]}, pretrain=config["pretrain"],
                      study={"device": config["study"]["device"]}),
        tokenizer=subpath(input.tokenizer, parent=True),
        out=subpath(output[0], parent=True),
    threads: config["study"]["threads"]
    resources:
        gpu=gpu_jobs(config["study"]["device"]),
        runtime=60,
    log:
        "logs/pretrain/pretrain.log",
    benchmark:
        "results/benchmarks/pretrain/pretrain.tsv"
    conda:
        ENV
    shell:
        "lingtrace pretrain --params {params.cfg:q} --threads {threads} --corpus {input.corpus:q}"
        " --tokenizer {params.tokenizer:q} --out {params.out:q} > {log:q} 2>&1"

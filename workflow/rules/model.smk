# The tiny encoder (model.name_or_path: null): corpus, tokenizer, masked-LM pretraining, and the
# tokenizer's unknown-token rate on each task's test split.


rule corpus:
    input:
        unpack(corpus_inputs),
    output:
        "results/pretrain/corpus.parquet",
    params:
        cfg=corpus_params(),
        files=corpus_args,
    log:
        "logs/pretrain/corpus.log",
    benchmark:
        "results/benchmarks/corpus/corpus.tsv"
    conda:
        ENV
    shell:
        "lingtrace corpus --params {params.cfg:q} {params.files:q} --out {output:q} > {log:q} 2>&1"


rule tokenizer:
    input:
        "results/pretrain/corpus.parquet",
    output:
        "results/pretrain/tokenizer/tokenizer.json",
    params:
        cfg=tokenizer_params(),
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
        cfg=pretrain_params(),
        tokenizer=subpath(input.tokenizer, parent=True),
        out=subpath(output[0], parent=True),
        torch_threads=config["pretrain"]["threads"],  # not {threads}: the model must not depend on --cores
    threads: config["pretrain"]["threads"]
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
        "lingtrace pretrain --params {params.cfg:q} --threads {params.torch_threads} --corpus {input.corpus:q}"
        " --tokenizer {params.tokenizer:q} --out {params.out:q} > {log:q} 2>&1"


rule unknown_tokens:
    input:
        tokenizer="results/pretrain/tokenizer/tokenizer.json",
        test="results/{task}/data/test.parquet",
    output:
        "results/{task}/metrics/unknown_tokens.csv",
    params:
        tokenizer=subpath(input.tokenizer, parent=True),
    log:
        "logs/{task}/unknown_tokens.log",
    benchmark:
        "results/benchmarks/unknown_tokens/{task}.tsv"
    conda:
        ENV
    shell:
        "lingtrace unknown-tokens --tokenizer {params.tokenizer:q} --data {input.test:q} --out {output:q} > {log:q} 2>&1"

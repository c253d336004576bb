# Analyses: which languages each test language's predictions rely on, from the influence tables.


rule analyze:
    input:
        influence=lambda wc: influence_tables(wc.task),
        train="results/{task}/data/train.parquet",
        planted=lambda wc: planted_input(wc.task),
    output:
        tables=expand("results/{{task}}/tables/{table}.{ext}", table=ANALYSIS_TABLES, ext=("parquet", "csv")),
        summary="results/{task}/analysis.json",
    params:
        cfg=lambda wc: as_params(analysis=config["analysis"], task=TASKS[wc.task]),
        runs=lambda wc: analysed_run_args(wc.task),
        planted=lambda wc, input: ["--planted", input.planted] if input.planted else [],
        out_dir=lambda wc: f"results/{wc.task}/tables",
    log:
        "logs/{task}/analyze.log",
    benchmark:
        "results/benchmarks/analyze/{task}.tsv"
    conda:
        ENV
    shell:
        "lingtrace analyze --params {params.cfg:q} --run {params.runs:q} --train {input.train:q} {params.planted:q}"
        " --out-dir {params.out_dir:q} --out-json {output.summary:q} > {log:q} 2>&1"

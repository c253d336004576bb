# Analyses: which languages each test language's predictions rely on, from the influence tables.


rule analyze:
    input:
        topk=lambda wc: influence_tables(wc.task, "topk"),
        lang=lambda wc: influence_tables(wc.task, "lang_scores"),
        train="results/{task}/data/train.parquet",
        planted=lambda wc: planted_input(wc.task),
    output:
        tables=expand("results/{{task}}/tables/{table}.parquet", table=ANALYSIS_TABLES),
        csv=expand("results/{{task}}/tables/{table}.csv", table=ANALYSIS_TABLES),
        summary="results/{task}/analysis.json",
    params:
        cfg=lambda wc: as_params(analysis=config["analysis"], task=task_dict(wc.task)),
        runs=lambda wc: study.influence_runs(config, TASKS[wc.task]),
        planted=lambda wc, input: ["--planted", input.planted] if input.planted else [],
    log:
        "logs/{task}/analyze.log",
    benchmark:
        "results/benchmarks/analyze/{task}.tsv"
    conda:
        ENV
    shell:
        "lingtrace analyze --params {params.cfg:q} --run {params.runs:q} --topk {input.topk:q} --lang-scores {input.lang:q}"
        " --train {input.train:q} {params.planted:q} --out {output.tables:q} --out-json {output.summary:q} > {log:q} 2>&1"

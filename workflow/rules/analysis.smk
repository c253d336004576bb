# Analyses: which languages each test language's predictions rely on, from the influence tables, beside
# the surface baselines that could explain them without a model.


rule baselines:
    input:
        train="results/{task}/data/train.parquet",
        test="results/{task}/data/test.parquet",
    output:
        shortcut="results/{task}/tables/shortcut.parquet",
        shortcut_csv="results/{task}/tables/shortcut.csv",
        topk="results/{task}/baselines/tfidf_topk.parquet",
        overlap="results/{task}/baselines/word_overlap.parquet",
    params:
        cfg=lambda wc: as_params(
            task=task_dict(wc.task),
            world=world_slice(config.get("world"), TASKS[wc.task].test_langs) if TASKS[wc.task].source == "synthetic" else None,
            influence={k: config["influence"][k] for k in ("test_per_lang", "top_k")},
            analysis=analysis_slice("shortcut_words", "shortcut_l2", "seed"),
        ),
    log:
        "logs/{task}/baselines.log",
    benchmark:
        "results/benchmarks/baselines/{task}.tsv"
    conda:
        ENV
    shell:
        "lingtrace baselines --params {params.cfg:q} --train {input.train:q} --test {input.test:q}"
        " --out-shortcut {output.shortcut:q} --out-topk {output.topk:q} --out-overlap {output.overlap:q} > {log:q} 2>&1"


rule analyze:
    input:
        unpack(lambda wc: baseline_inputs(wc.task)),
        topk=lambda wc: influence_tables(wc.task, "topk"),
        lang=lambda wc: influence_tables(wc.task, "lang_scores"),
        train="results/{task}/data/train.parquet",
        test="results/{task}/data/test.parquet",
        metrics="results/{task}/metrics/accuracy.parquet",
        planted=lambda wc: planted_input(wc.task),
    output:
        tables=expand("results/{{task}}/tables/{table}.parquet", table=ANALYSIS_TABLES),
        csv=expand("results/{{task}}/tables/{table}.csv", table=ANALYSIS_TABLES),
        summary="results/{task}/analysis.json",
    params:
        cfg=lambda wc: as_params(analysis=config["analysis"], task=task_dict(wc.task)),
        runs=lambda wc: [run for run, _ in analysed_pairs(wc.task)],
        seeds=lambda wc: [seed for _, seed in analysed_pairs(wc.task)],
        planted=lambda wc, input: ["--planted", input.planted] if input.planted else [],
    log:
        "logs/{task}/analyze.log",
    benchmark:
        "results/benchmarks/analyze/{task}.tsv"
    conda:
        ENV
    shell:
        "lingtrace analyze --params {params.cfg:q} --run {params.runs:q} --seed {params.seeds} --topk {input.topk:q}"
        " --lang-scores {input.lang:q} --train {input.train:q} --test {input.test:q} --metrics {input.metrics:q}"
        " {params.planted:q} --baseline-topk {input.baseline_topk:q} --word-overlap {input.overlap:q}"
        " --out {output.tables:q} --out-json {output.summary:q} > {log:q} 2>&1"

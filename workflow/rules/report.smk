# The study's results: figures, an examples page, per-task summaries, summary.json and summary.md.


rule figures:
    input:
        tables=expand("results/{{task}}/tables/{table}.parquet", table=("influence_matrix", "progression", "language_shares", "ablation")),
    output:
        figures=[
            report(
                f"results/{{task}}/figures/{name}.{ext}",
                caption=f"../report/{name}.rst",
                category="{task}",
                subcategory="Figures",
                labels={"task": "{task}", "figure": name, "format": ext},
            )
            for name in FIGURES
            for ext in ("png", "svg")
        ],
    params:
        cfg=lambda wc: as_params(report=figure_settings(), task=TASKS[wc.task]),
        tables=lambda wc: f"results/{wc.task}/tables",
        out_dir=lambda wc: f"results/{wc.task}/figures",
    log:
        "logs/{task}/figures.log",
    benchmark:
        "results/benchmarks/figures/{task}.tsv"
    conda:
        ENV
    shell:
        "lingtrace figures --params {params.cfg:q} --tables {params.tables:q} --out-dir {params.out_dir:q} > {log:q} 2>&1"


rule examples:
    input:
        topk=f"results/{{task}}/joint/seed-{INFLUENCE_SEED}/influence/topk.parquet",
        train="results/{task}/data/train.parquet",
        test="results/{task}/data/test.parquet",
        predictions="results/{task}/metrics/predictions.parquet",
    output:
        report(
            "results/{task}/examples.html",
            caption="../report/examples.rst",
            category="{task}",
            subcategory="Examples",
            labels={"task": "{task}", "page": "examples"},
        ),
    params:
        cfg=lambda wc: as_params(report=example_settings(), task={"name": wc.task}),
    log:
        "logs/{task}/examples.log",
    benchmark:
        "results/benchmarks/examples/{task}.tsv"
    conda:
        ENV
    shell:
        "lingtrace examples --params {params.cfg:q} --topk {input.topk:q} --train {input.train:q} --test {input.test:q}"
        " --predictions {input.predictions:q} --out {output:q} > {log:q} 2>&1"


rule task_summary:
    input:
        metrics="results/{task}/metrics/accuracy.parquet",
        analysis="results/{task}/analysis.json",
        validation="results/{task}/validation.json",
    output:
        "results/{task}/summary.json",
    params:
        cfg=lambda wc: as_params(task=TASKS[wc.task]),
        extras=lambda wc, input: [input.analysis, input.validation],
    log:
        "logs/{task}/task_summary.log",
    benchmark:
        "results/benchmarks/task_summary/{task}.tsv"
    conda:
        ENV
    shell:
        "lingtrace task-summary --params {params.cfg:q} --metrics {input.metrics:q} --extra {params.extras:q}"
        " --out {output:q} > {log:q} 2>&1"


rule summary:
    input:
        expand("results/{task}/summary.json", task=TASKS),
    output:
        json="results/summary.json",
        md=report("results/summary.md", caption="../report/summary.rst", category="Summary"),
    log:
        "logs/summary.log",
    benchmark:
        "results/benchmarks/summary/summary.tsv"
    conda:
        ENV
    shell:
        "lingtrace summary --task-summary {input:q} --out-json {output.json:q} --out-md {output.md:q} > {log:q} 2>&1"

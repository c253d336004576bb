# The study's results: figures, an examples page, per-task summaries, summary.json and summary.md.


rule figures:
    input:
        influence_matrix="results/{task}/tables/influence_matrix.parquet",
        progression="results/{task}/tables/progression.parquet",
        language_shares="results/{task}/tables/language_shares.parquet",
        ablation="results/{task}/tables/ablation_loss.parquet",
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
        cfg=lambda wc: report_params(wc.task, ("dpi", "cmap")),
    log:
        "logs/{task}/figures.log",
    benchmark:
        "results/benchmarks/figures/{task}.tsv"
    conda:
        ENV
    shell:
        "lingtrace figures --params {params.cfg:q} --influence-matrix {input.influence_matrix:q}"
        " --progression {input.progression:q} --language-shares {input.language_shares:q} --ablation {input.ablation:q}"
        " --out {output.figures:q} > {log:q} 2>&1"


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
        cfg=lambda wc: report_params(wc.task, ("examples_per_lang", "show_k")),
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
        shortcut="results/{task}/tables/shortcut.parquet",
        pieces=lambda wc: summary_pieces(wc.task),
    output:
        "results/{task}/summary.json",
    params:
        cfg=lambda wc: as_params(task=task_dict(wc.task), analysis=analysis_slice("seed_tolerance", "chance_margin", "shortcut_margin")),
    log:
        "logs/{task}/task_summary.log",
    benchmark:
        "results/benchmarks/task_summary/{task}.tsv"
    conda:
        ENV
    shell:
        "lingtrace task-summary --params {params.cfg:q} --metrics {input.metrics:q} --shortcut {input.shortcut:q}"
        " --extra {input.pieces:q} --out {output:q} > {log:q} 2>&1"


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

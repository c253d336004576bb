# The study's results: per-task summaries merged into results/summary.json and summary.md.


rule task_summary:
    input:
        metrics="results/{task}/metrics/accuracy.parquet",
    output:
        "results/{task}/summary.json",
    params:
        cfg=lambda wc: as_params(task=TASKS[wc.task]),
    log:
        "logs/{task}/task_summary.log",
    benchmark:
        "results/benchmarks/task_summary/{task}.tsv"
    conda:
        ENV
    shell:
        "lingtrace task-summary --params {params.cfg:q} --metrics {input.metrics:q} --out {output:q} > {log:q} 2>&1"


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

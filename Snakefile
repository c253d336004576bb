# lingtrace: which languages does a multilingual model learn from? See README.md.
from snakemake.utils import min_version, validate

min_version("9.20")


configfile: "config.yaml"


validate(config, "workflow/schemas/config.schema.yaml")


report: "workflow/report/workflow.rst"


include: "workflow/rules/common.smk"
include: "workflow/rules/data.smk"
include: "workflow/rules/model.smk"
include: "workflow/rules/finetune.smk"
include: "workflow/rules/gradients.smk"
include: "workflow/rules/influence.smk"
include: "workflow/rules/analysis.smk"
include: "workflow/rules/validation.smk"
include: "workflow/rules/report.smk"


rule all:
    default_target: True
    input:
        study_outputs(),

"""lingtrace: which languages does a multilingual model learn from?

A Snakemake workflow and a Python package that fine-tune a multilingual encoder on several
languages at once and attribute its test predictions to training examples with TracIn.
The package knows nothing of Snakemake: every stage is a function on files, and a CLI command.
"""

__version__ = "0.1.0"

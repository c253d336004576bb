"""Analyses of the influence tables: which languages the influential training examples come from.

Pure functions on polars DataFrames that return tidy DataFrames, one module per concept:

- ``stats``: percentile bootstrap over test examples, means with intervals, Spearman correlation.
- ``shares``: the language composition of the top-k (share, cross-lingual share, enrichment over
  chance), and the zero-shot and imbalance (boost) comparisons.
- ``matrix``: the language influence matrix (mean influence per training example of each language).
- ``reinforcement``: are cross-lingual proponents translations of the own-language proponents?
- ``progression``: the cross-lingual share over fine-tuning checkpoints, and its slope.
- ``planted``: does the measured influence recover the planted similarity of the babel languages?

Every function takes the tables of one run; to analyse several at once, stack them with context
columns (``task``, ``run``, ``seed``), which every function then carries through as grouping keys.
"""

"""The TracIn engine: per-example gradients, their projection and storage, scoring, the exact merge of
shards, and a Python API over all of it.

    gradients   hooks that turn one batched backward into per-example (projected) gradient vectors
    projection  none (exact), logra (per-layer Kronecker) and gaussian projections
    examples    which examples a dump traces: a run's training rows, the scored test sample
    store       the gradient shard file contract (write, read, metadata, compatibility)
    shards      reading a split's shards at every checkpoint into aligned arrays, with their checks
    kernel      the scoring arithmetic: score blocks per chunk of training rows, per-language sums
    topk        exact streaming top-k with a deterministic tie-break
    tables      the influence table contracts (topk, lang_scores)
    score       one scoring job: shards in, tables out
    merge       the exact merge of shard tables
    api         the Python API (tracin_scores, influence_tables, dump_checkpoints), re-exported here
    stage       the file-level entries the CLI calls

Importing this package imports nothing heavy; ``lingtrace.tracin.tracin_scores`` and the other API
functions load the engine (torch) on first use.
"""

API = ("tracin_scores", "influence_tables", "top_influencers", "language_scores", "dump_checkpoints", "DenseScores")


def __getattr__(name: str):
    if name in API:
        from lingtrace.tracin import api

        return getattr(api, name)
    raise AttributeError(f"module 'lingtrace.tracin' has no attribute {name!r}")


__all__ = list(API)

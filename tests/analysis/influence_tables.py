"""Builders of tiny influence tables (the topk / lang_scores contracts), written out by hand in the tests.

A plain module, not a conftest.py: tests/conftest.py is imported as ``conftest`` by other tests, and a
second conftest module here would shadow it.
"""

from __future__ import annotations

import polars as pl

from lingtrace.tracin.tables import LANG_SCHEMA, TOPK_SCHEMA  # the influence table contracts


def build_topk(lists: dict, checkpoint="all", variant="dot", direction="proponent") -> pl.DataFrame:
    """``{(test_uid, test_lang): [train_uid, ...]}`` in rank order; a train uid's language is its prefix before '-'.

    Keys may also be (test_uid, test_lang, checkpoint) to give each list its own checkpoint.
    """
    rows = []
    for key, train_uids in lists.items():
        test_uid, test_lang, ckpt = (*key, checkpoint) if len(key) == 2 else key
        for rank, train_uid in enumerate(train_uids, start=1):
            rows.append(
                {
                    "test_uid": test_uid,
                    "test_lang": test_lang,
                    "checkpoint": ckpt,
                    "variant": variant,
                    "direction": direction,
                    "rank": rank,
                    "train_uid": train_uid,
                    "train_lang": train_uid.split("-")[0],
                    "score": float(len(train_uids) - rank + 1),
                }
            )
    return pl.DataFrame(rows, schema=TOPK_SCHEMA)


def build_lang_scores(tests: dict, n_train: dict, checkpoints=("all",), variant="dot", score_sums=None) -> pl.DataFrame:
    """One row per test example x checkpoint x training language; score_sums[(test_uid, train_lang)] or 0."""
    score_sums = score_sums or {}
    rows = [
        {
            "test_uid": uid,
            "test_lang": lang,
            "checkpoint": ckpt,
            "variant": variant,
            "train_lang": train_lang,
            "score_sum": float(score_sums.get((uid, train_lang), 0.0)),
            "n_train": n,
        }
        for uid, lang in tests.items()
        for ckpt in checkpoints
        for train_lang, n in n_train.items()
    ]
    return pl.DataFrame(rows, schema=LANG_SCHEMA)


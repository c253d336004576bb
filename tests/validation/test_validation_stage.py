"""The validation stage's words and small helpers (lingtrace.validation.stage), on hand-made summary
dicts: the ablation 'agrees with' TracIn only when its interval is above 0 ('disagrees' only below),
the removal test shows a specific effect only when the difference's interval is above 0, the LDS beats
the surface baseline only when the best variant's interval lies above the baseline's; plus the reliance
filter, the nested loss intervals and the removal-sets argument check."""

import polars as pl
import pytest
from lingtrace.errors import ConfigError
from lingtrace.validation.stage import (
    headline_reliance,
    lds_sentence,
    nested_intervals,
    pct_interval,
    validation_findings,
    write_removal_sets,
)


def ablation(mean=0.4, lo=0.1, hi=0.7, seeds=3):
    within = {"mean_spearman": mean, "interval": [lo, hi], "seeds": seeds}
    return {"ablation": {"loss_measure": "raw", "agreement": {"within_language": within}}}


def estimate(mean, lo, hi):
    return {"mean": mean, "interval": [lo, hi]}


def removal(diff_lo=0.05, diff_mean=0.2, tracin_mean=0.3):
    return {
        "specific_effect": {"tracin": estimate(tracin_mean, 0.1, 0.5), "random": estimate(0.1, -0.1, 0.2),
                            "difference": estimate(diff_mean, diff_lo, 0.4)},
        "tracin_effect": 0.35, "random_effect": 0.12, "seeds": 2, "random_draws": 3,
    }  # fmt: skip


@pytest.mark.parametrize(
    "lo, hi, verdict",
    [(0.1, 0.7, "agrees with"), (-0.7, -0.1, "disagrees with"), (-0.1, 0.7, "shows no clear agreement with"),
     (0.0, 0.7, "shows no clear agreement with"), (None, None, "shows no clear agreement with")],
)  # fmt: skip
def test_the_ablation_verdict_follows_the_interval(lo, hi, verdict):
    [sentence] = validation_findings(ablation(lo=lo, hi=hi), 0.95)
    assert sentence.startswith(f"Retraining without a language {verdict} TracIn:")
    assert "averages 0.40 (95% interval over 3 seeds" in sentence and "(raw)" in sentence
    assert sentence.endswith(f"{pct_interval([lo, hi])}).")


def test_no_agreement_sentence_without_a_spearman():
    assert validation_findings(ablation(mean=None), 0.9) == []
    assert validation_findings({**ablation(mean=None), "removal_test": {}}, 0.9) == []


@pytest.mark.parametrize("diff_lo, specific", [(0.05, True), (-0.05, False), (0.0, False), (None, False)])
def test_the_removal_effect_is_specific_only_when_the_difference_is_above_zero(diff_lo, specific):
    [sentence] = validation_findings({**ablation(mean=None), "removal_test": removal(diff_lo=diff_lo)}, 0.9)
    assert sentence.startswith("Removal test: removing TracIn's top proponents raises the sampled test examples' "
                               "loss by +0.300 beyond")  # fmt: skip
    assert "(90% interval [+0.100, +0.500])" in sentence and "by +0.100 [-0.100, +0.200]" in sentence
    assert ("shows the proponents matter to these examples in particular." in sentence) == specific
    assert ("does not show an effect specific to these examples." in sentence) == (not specific)
    assert sentence.endswith("(Raw loss change +0.350 vs +0.120; 2 seeds, 3 random draws.)")


def test_no_removal_sentence_without_estimates():
    assert validation_findings({**ablation(), "removal_test": removal(tracin_mean=None)}, 0.95)[1:] == []
    assert validation_findings({**ablation(), "removal_test": removal(diff_mean=None)}, 0.95)[1:] == []
    both = validation_findings({**ablation(), "removal_test": removal()}, 0.95)
    assert [s.split(":")[0] for s in both] == ["Retraining without a language agrees with TracIn", "Removal test"]


def test_pct_interval():
    assert pct_interval([0.0123, -0.5]) == "[+0.012, -0.500]"
    assert pct_interval([0.01, 0.02], scale=100) == "[+1.000, +2.000]"
    assert pct_interval([None, None]) == "[n/a]"


def lds(variants, base=None, subsets=8, fraction=0.5):
    return {"variants": variants, "surface_baseline": base, "subsets": subsets, "fraction": fraction}


def v(value, lo, hi, **more):
    return {"lds": value, "interval": [lo, hi], **more}


def test_lds_beats_the_baseline_only_when_the_intervals_are_apart():
    variants = {"dot": v(0.3, 0.2, 0.4), "cosine": v(0.5, 0.4, 0.6)}
    above = lds_sentence(lds(variants, v(0.1, 0.0, 0.2, examples=10, undefined_examples=0)), 0.95)
    assert above.startswith("Linear datamodeling score over 8 retrained 50% subsets (mean over test examples, "
                            "95% interval): TracIn cosine 0.50 [+0.400, +0.600], dot 0.30 [+0.200, +0.400]; "
                            "a TF-IDF surface attribution 0.10 [+0.000, +0.200];")  # fmt: skip
    assert above.endswith("TracIn predicts retraining outcomes better than the surface baseline.")
    overlapping = lds_sentence(lds(variants, v(0.1, 0.0, 0.45)), 0.95)
    assert overlapping.endswith("TracIn is not clearly better than the surface baseline at predicting retraining "
                                "outcomes.")  # fmt: skip


def test_lds_compares_the_variant_with_the_best_mean():
    # dot's interval clears the baseline, but cosine has the best mean and its interval does not
    variants = {"dot": v(0.3, 0.35, 0.4), "cosine": v(0.5, 0.1, 0.9)}
    assert "not clearly better" in lds_sentence(lds(variants, v(0.2, 0.1, 0.3)), 0.95)
    variants = {"dot": v(0.3, 0.35, 0.4), "cosine": v(0.2, 0.1, 0.9)}
    assert "predicts retraining outcomes better" in lds_sentence(lds(variants, v(0.2, 0.1, 0.3)), 0.95)


def test_lds_without_a_baseline_or_its_interval_claims_nothing():
    alone = lds_sentence(lds({"dot": v(0.9, 0.8, 1.0)}), 0.9)
    assert "TF-IDF" not in alone and alone.endswith("not clearly better than the surface baseline at predicting "
                                                    "retraining outcomes.")  # fmt: skip
    assert "(mean over test examples, 90% interval)" in alone
    no_interval = lds_sentence(lds({"dot": v(0.9, None, None)}, v(0.1, 0.0, 0.2)), 0.9)
    assert "dot 0.90 [n/a]" in no_interval and "not clearly better" in no_interval


def test_lds_says_how_many_examples_the_baseline_cannot_tell_apart():
    text = lds_sentence(lds({"dot": v(0.3, 0.2, 0.4)}, v(0.1, 0.0, 0.2, examples=7, undefined_examples=3), 4, 0.25), 0.95)
    assert "over 4 retrained 25% subsets" in text
    assert ("a TF-IDF surface attribution 0.10 [+0.000, +0.200] (over the 7 test examples it tells apart; 3 share no "
            "word with the training set and get no prediction)") in text  # fmt: skip


def test_headline_reliance_takes_the_joint_runs_summed_proponent_shares(tmp_path):
    rows = [
        ("joint", "all", "cosine", "proponent", 50, "ala", "bea", 0.25),
        ("joint", "1", "cosine", "proponent", 50, "ala", "bea", 0.9),  # one checkpoint
        ("joint", "all", "dot", "proponent", 50, "ala", "bea", 0.8),  # another variant
        ("joint", "all", "cosine", "opponent", 50, "ala", "bea", 0.7),
        ("joint", "all", "cosine", "proponent", 10, "ala", "bea", 0.6),  # another k
        ("boost-ala", "all", "cosine", "proponent", 50, "ala", "bea", 0.5),
    ]
    path = tmp_path / "language_shares.parquet"
    pl.DataFrame(rows, schema=["run", "checkpoint", "variant", "direction", "k", "test_lang", "train_lang", "share"],
                 orient="row").write_parquet(path)  # fmt: skip
    got = headline_reliance(path, "cosine", 50)
    assert got.columns == ["test_lang", "train_lang", "reliance"] and got.rows() == [("ala", "bea", 0.25)]


def test_nested_intervals():
    table = pl.DataFrame({"test_lang": ["ala", "ala", "bea"], "removed_lang": ["bea", "ala", "ala"],
                          "specific_loss": [0.1, 0.2, 0.3], "specific_loss_lo": [0.0, 0.1, 0.2],
                          "specific_loss_hi": [0.2, 0.3, 0.4]})  # fmt: skip
    assert nested_intervals(table, "specific_loss") == {
        "ala": {"bea": {"mean": 0.1, "interval": [0.0, 0.2]}, "ala": {"mean": 0.2, "interval": [0.1, 0.3]}},
        "bea": {"ala": {"mean": 0.3, "interval": [0.2, 0.4]}},
    }


def test_removal_sets_need_one_topk_table_per_seed(tmp_path):
    with pytest.raises(ConfigError, match=r"one topk table per seed \(1 tables, 2 seeds\)"):
        write_removal_sets(["a.parquet"], [0, 1], tmp_path / "train.parquet", {"task": {"train_langs": ["ala"]}},
                           tmp_path / "s", tmp_path / "t", [tmp_path / "r"])  # fmt: skip
    assert not any(tmp_path.iterdir())


def test_an_interval_that_could_not_be_computed_reads_n_a_not_nan():
    assert pct_interval([float("nan"), float("nan")]) == "[n/a]"
    assert pct_interval([None, None]) == "[n/a]"
    assert pct_interval([-0.1, 0.25]) == "[-0.100, +0.250]"


def test_lds_sentence_survives_a_variant_without_a_score():
    lds = {"variants": {"cosine": {"lds": None, "interval": [None, None]}}, "surface_baseline": None,
           "subsets": 4, "fraction": 0.5}  # fmt: skip
    assert "cosine n/a [n/a]" in lds_sentence(lds, 0.95)

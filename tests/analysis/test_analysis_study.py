"""The task analysis' findings in words (lingtrace.analysis.study), on hand-made tables: a finding is
stated only where its control holds, and otherwise the sentence gives the control's numbers; the
planted check names each control that fails; and the number helpers and jsonable keep summary.json
strict JSON (NaN and infinities as null, "n/a" in the words)."""

import json
import math

import polars as pl
import pytest
from lingtrace import settings
from lingtrace.analysis.study import findings, interval, jsonable, number, pct, planted_sentence

CFG = settings.load("analysis", {"variant": "cosine", "headline_k": 50, "confidence": 0.95})
NAN = float("nan")


def planted(spearman=0.8, tfidf=0.3, overlap=0.2, partial_p=0.01, contrast=0.1, contrast_lo=0.02, with_tfidf=True):
    baselines = {"word_overlap": {"spearman": overlap, "p_value": 0.3}}
    if with_tfidf:
        baselines["tfidf"] = {"spearman": tfidf, "p_value": 0.2, "zero_overlap_contrast": 0.0}
    return {
        "spearman": spearman, "p_value": 0.004, "n_pairs": 6, "baselines": baselines,
        "partial_spearman": {"value": 0.55, "p_value": partial_p, "interval": [0.1, 0.9]},
        "zero_overlap_contrast": {"value": contrast, "interval": [contrast_lo, 0.2], "close_pairs": 2, "far_pairs": 2},
    }  # fmt: skip


def sentence(p):
    return planted_sentence(p, 50, "cosine", "95%", alpha=0.05)


def test_the_planted_structure_is_claimed_only_when_every_control_holds():
    text = sentence(planted())
    assert text.startswith("TracIn's reliance (share of top-50 proponents, cosine) follows the planted language")
    assert "Spearman 0.80 (Mantel p = 0.004, 6 pairs) against 0.30 for a TF-IDF retriever and 0.20 for word overlap" in text
    assert "partial Spearman given word overlap 0.55 (Mantel p = 0.01)" in text
    assert "close minus far cross-script pairs +10.0 points (95% interval [+2.0, +20.0])" in text


@pytest.mark.parametrize(
    "change, reason",
    [
        ({"tfidf": 0.9}, "it does not beat the surface baselines"),
        ({"overlap": 0.8}, "it does not beat the surface baselines"),
        ({"partial_p": 0.2}, "controlling for word overlap leaves no significant association"),
        ({"contrast_lo": -0.01}, "cross-script pairs of one family are not relied on more than other cross-script pairs"),
    ],
)
def test_a_failed_control_is_named_and_its_numbers_given(change, reason):
    text = sentence(planted(**change))
    assert text.startswith(f"The planted language structure is not recovered beyond surface overlap ({reason}):")
    assert "follows the planted" not in text
    assert "against " in text and "for word overlap" in text  # the numbers are still said


def test_every_failed_control_is_listed():
    text = sentence(planted(spearman=0.1, partial_p=NAN, contrast=NAN, contrast_lo=NAN))
    reasons = text.split("(", 1)[1].split("):", 1)[0].split("; ")
    assert len(reasons) == 3
    assert "no close and far cross-script pairs to contrast" in text
    assert "(Mantel p = n/a)" in text


def test_without_a_tfidf_baseline_the_structure_is_never_claimed():
    text = sentence(planted(with_tfidf=False))
    assert text.startswith("The planted language structure is not recovered")
    assert "TF-IDF" not in text and "against 0.20 for word overlap" in text


def test_number_helpers_say_n_a_for_missing_values():
    assert number(None) == number(NAN) == number(math.inf) == "n/a" and number(0.123) == "0.12"
    assert number(0.000123, ".2g") == "0.00012"
    assert pct(None) == pct(NAN) == "n/a" and pct(0.256) == "26%"
    assert interval(-0.012, 0.034) == "[-1.2, +3.4]" and interval(0.5, 1.0, scale=1.0, unit=" pt") == "[+0.5 pt, +1.0 pt]"
    assert interval(None, 0.1) == interval(0.1, NAN) == "[n/a]"


def test_jsonable_makes_nan_and_infinities_null_at_any_depth():
    obj = {"a": NAN, "b": [1.5, math.inf, (2, -math.inf)], "c": {"d": {"e": NAN, "f": True, "g": "x", "h": 3}}}
    out = jsonable(obj)
    assert out == {"a": None, "b": [1.5, None, [2, None]], "c": {"d": {"e": None, "f": True, "g": "x", "h": 3}}}
    json.dumps(out, allow_nan=False)  # strict JSON
    assert obj["a"] != obj["a"]  # the input is left as it was


# --- findings on hand-made tables -------------------------------------------------------------------


def cross_table(rows):
    """crosslingual_shares rows (run, test_lang, variant, zero_shot, share) at checkpoint all, proponents, k 50."""
    return pl.DataFrame(
        [(run, lang, "all", variant, "proponent", 50, zero_shot, share) for run, lang, variant, zero_shot, share in rows],
        schema={"run": pl.String, "test_lang": pl.String, "checkpoint": pl.String, "variant": pl.String,
                "direction": pl.String, "k": pl.Int64, "zero_shot": pl.Boolean, "crosslingual_share": pl.Float64},
        orient="row",
    )  # fmt: skip


def slopes_table(slope=0.0, lo=-0.01, hi=0.01):
    return pl.DataFrame({"run": ["joint"], "test_lang": ["all"], "variant": ["cosine"], "direction": ["proponent"],
                         "slope": [slope], "slope_lo": [lo], "slope_hi": [hi]})  # fmt: skip


def tables(**extra):
    cross = cross_table([
        ("joint", "ala", "cosine", False, 0.4), ("joint", "bea", "cosine", False, 0.2),
        ("joint", "alb", "cosine", True, 0.9),  # zero-shot: not a fine-tuning language
        ("joint", "ala", "dot", False, 0.99),  # another variant
        ("without-ala", "bea", "cosine", False, 0.7),  # another run
    ])  # fmt: skip
    return {"crosslingual_shares": cross, "progression_slopes": slopes_table(), **extra}


def test_the_crosslingual_share_is_the_joint_runs_seen_languages_at_the_headline():
    out = findings(tables(), CFG, None, None)
    assert out["joint_mean_crosslingual_share"] == pytest.approx(0.3)
    assert out["findings"][0] == ("In the joint run, 30% of the top-50 proponents (cosine) of a fine-tuning language's "
                                  "test examples come from other languages (ala 40%, bea 20%).")  # fmt: skip
    assert out["crosslingual_share"]["joint"]["alb"] == {"all": 0.9}
    assert out["crosslingual_share"]["without-ala"] == {"bea": {"all": 0.7}}
    assert "ala" in out["crosslingual_share"]["joint"] and out["crosslingual_share"]["joint"]["ala"]["all"] == 0.4
    assert out["planted_spearman"] is None and "planted" not in out


def test_the_tfidf_control_is_set_beside_the_crosslingual_share():
    base = pl.DataFrame({"run": "tfidf", "test_lang": ["ala", "bea", "ala"], "train_lang": ["ala", "bea", "bea"],
                         "checkpoint": "all", "variant": "tfidf", "direction": "proponent", "k": 50,
                         "zero_shot": False, "share": [0.9, 0.7, 0.1]})  # fmt: skip
    out = findings(tables(baseline_shares=base), CFG, None, None)
    assert out["tfidf_mean_crosslingual_share"] == pytest.approx(0.2)
    assert out["findings"][0].endswith("; a TF-IDF retriever with no model takes 20% from other languages.")


@pytest.mark.parametrize("lo, hi, trend", [(0.01, 0.05, "grows"), (-0.05, -0.01, "shrinks"),
                                           (-0.01, 0.05, "shows no clear trend")])  # fmt: skip
def test_the_progression_trend_follows_its_interval(lo, hi, trend):
    out = findings(tables(progression_slopes=slopes_table(0.02, lo, hi)), CFG, None, None)
    said = [s for s in out["findings"] if s.startswith("Over the trained checkpoints")]
    assert len(said) == 1
    assert f"the cross-lingual share {trend}: +2.0 points per epoch" in said[0]
    assert f"95% interval {interval(lo, hi)}" in said[0] and "past 90% of the way" in said[0]
    assert out["progression_slope"] == {"slope": 0.02, "slope_lo": lo, "slope_hi": hi}


def test_a_nan_slope_is_null_in_the_summary():
    out = findings(tables(progression_slopes=slopes_table(NAN, -0.1, 0.1)), CFG, None, None)
    assert out["progression_slope"]["slope"] is None
    json.dumps(out, allow_nan=False)


@pytest.mark.parametrize("excess_lo, above", [(0.01, True), (-0.01, False)])
def test_reinforcement_is_claimed_only_above_its_chance_control(excess_lo, above):
    table = pl.DataFrame({"run": "joint", "test_lang": ["all", "ala"], "checkpoint": "all", "variant": "cosine",
                          "direction": "proponent", "k": 50, "reinforcing_rate": [0.3, 0.9], "chance_rate": [0.2, 0.1],
                          "excess": [0.1, 0.8], "excess_lo": [excess_lo, 0.5], "excess_hi": [0.2, 0.9]})  # fmt: skip
    out = findings(tables(reinforcement=table), CFG, None, None)
    said = [s for s in out["findings"] if "translations of the test language's own proponents" in s]
    assert len(said) == 1 and said[0].startswith("30% of cross-lingual proponents") and "against 20%" in said[0]
    assert ("above chance by 10.0 points" in said[0]) == above
    assert ("not above that chance" in said[0]) == (not above)
    assert out["reinforcing_rate"] == 0.3 and out["reinforcement"]["excess_lo"] == excess_lo


def test_the_planted_check_goes_into_the_summary_and_the_words():
    p = planted(partial_p=0.2)
    out = findings(tables(), CFG, None, p)
    assert out["planted_spearman"] == 0.8 and out["planted"]["n_pairs"] == 6
    assert out["findings"][-1] == planted_sentence(p, 50, "cosine", "95%", alpha=1 - CFG.confidence)
    assert "controlling for word overlap leaves no significant association" in out["findings"][-1]


def test_no_seen_language_rows_means_no_share_sentence():
    only_zero_shot = cross_table([("joint", "alb", "cosine", True, 0.9)])
    out = findings({"crosslingual_shares": only_zero_shot, "progression_slopes": slopes_table().clear()}, CFG, None,
                   None)  # fmt: skip
    assert not any("of the top-" in f for f in out["findings"]) and "joint_mean_crosslingual_share" not in out
    assert out["findings"] == ["No slope of the cross-lingual share: fewer than two checkpoints of the joint run are "
                               "past 90% of the way from chance to its final accuracy."]  # fmt: skip

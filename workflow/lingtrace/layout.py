"""Names of the study's tables and figures, shared by the workflow rules and the stages writing them."""

ANALYSIS_TABLES = (
    "language_shares", "crosslingual_shares", "influence_matrix", "progression", "progression_slopes",
    "trained_checkpoints", "reinforcement", "zero_shot", "self_reliance", "baseline_shares", "planted",
)  # fmt: skip
FIGURES = ("influence_heatmaps", "crosslingual_progression", "enrichment", "ablation")

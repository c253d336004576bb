"""Causal checks of the attribution: language ablation retraining and the removal test."""

"""Tokenizer, model construction and masked-LM pretraining."""

"""The trained tokenizer is an HF tokenizer with XLM-R's special tokens and pair template."""

from lingtrace.model.tokenizer import load_tokenizer, train_tokenizer


def test_round_trip_and_pair_template(tmp_path):
    texts = ["rogu gulusot rebi", "фоднахо вагселух монда", "rogu rebi"] * 10
    tok = train_tokenizer(texts, vocab_size=120)
    tok.save_pretrained(tmp_path)
    loaded = load_tokenizer(tmp_path)
    enc = loaded("rogu gulusot", "rebi rogu")["input_ids"]
    assert enc == tok("rogu gulusot", "rebi rogu")["input_ids"]
    tokens = loaded.convert_ids_to_tokens(enc)
    assert tokens[0] == "<s>" and tokens[-1] == "</s>" and tokens.count("</s>") == 3
    assert (loaded.pad_token_id, loaded.bos_token_id, loaded.eos_token_id) == (1, 0, 2)
    assert "▁gulusot" in tokens  # frequent words become single tokens

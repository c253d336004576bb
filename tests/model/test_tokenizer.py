"""The trained tokenizer is an HF tokenizer with XLM-R's special tokens and pair template."""

from lingtrace.model.tokenizer import BYTE_TOKENS, load_tokenizer, train_tokenizer


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


SCRIPTS = ["東京都 大阪府 バイエルン州", "Бавария Саксония Москва", "Bayern Sachsen Île-de-France"] * 10


def test_byte_fallback_spells_unseen_characters_as_bytes(tmp_path):
    tok = train_tokenizer(SCRIPTS, vocab_size=400, byte_fallback=True)
    assert len(tok) <= 400 and set(BYTE_TOKENS) <= set(tok.get_vocab())  # the byte tokens count in vocab_size
    tok.save_pretrained(tmp_path)
    loaded = load_tokenizer(tmp_path)
    for text in ("東京都 Москва Bayern", "北京市 Київ Ελλάδα"):  # the second: characters the corpus never had
        ids = loaded(text, add_special_tokens=False)["input_ids"]
        assert loaded.unk_token_id not in ids
        assert loaded.decode(ids) == text
    assert "<0xE5>" in loaded.convert_ids_to_tokens(loaded("北", add_special_tokens=False)["input_ids"])


def test_without_byte_fallback_every_corpus_character_is_known_and_others_are_unknown():
    tok = train_tokenizer(SCRIPTS, vocab_size=200)
    assert tok.unk_token_id not in tok("大阪府 Саксония Île", add_special_tokens=False)["input_ids"]
    assert tok.unk_token_id in tok("北京", add_special_tokens=False)["input_ids"]


def test_unknown_token_rates_per_language():
    import pyarrow as pa

    from lingtrace.model.tokenizer import unknown_token_rates

    tok = train_tokenizer(SCRIPTS, vocab_size=200)
    table = pa.table({"lang": ["ja", "ru", "ja"], "text_a": ["東京都", "Москва", "北京"],
                      "text_b": [None, "Саксония", None]})  # fmt: skip
    rates = {row["lang"]: row for row in unknown_token_rates(tok, table)}
    assert rates["ru"]["unknown"] == 0 and rates["ru"]["unknown_rate"] == 0.0
    ja_tokens = sum(len(tok(text, add_special_tokens=False)["input_ids"]) for text in ("東京都", "北京"))
    assert rates["ja"]["tokens"] == ja_tokens and rates["ja"]["unknown"] >= 1
    assert rates["ja"]["unknown_rate"] == rates["ja"]["unknown"] / ja_tokens

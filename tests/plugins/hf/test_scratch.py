"""The scratch tokenizer: the instruction every training prompt starts with as one token, on ViGGO-like rows."""

from __future__ import annotations

from pathlib import Path

import pytest
from fteval_hf.config import HFConfig, ScratchModel

INSTRUCTION = (
    "Given a target sentence construct the underlying meaning representation of the input sentence as a "
    "single function with attributes and attribute values."
)
ROWS = [
    (f"{game} is a {genre} game from {year}.", f"inform(name[{game}], genres[{genre}], release_year[{year}])")
    for game in ("Portal 2", "Little Big Adventure", "Dirt: Showdown", "The Sims", "Halo 3")
    for genre in ("puzzle", "racing", "shooter", "simulation")
    for year in (2007, 2011, 2012)
]


def test_one_token_prefix_defaults_to_false_and_is_validated() -> None:
    config = HFConfig.model_validate({"model": {"init": "scratch"}})
    assert isinstance(config.model, ScratchModel) and config.model.one_token_prefix is False
    with pytest.raises(ValueError, match="one_token_prefix"):
        HFConfig.model_validate({"model": {"init": "scratch", "one_token_prefix": "sometimes"}})


def test_whole_strings_become_one_token_wherever_they_occur(tmp_path: Path) -> None:
    from fteval_hf.scratch import shared_start, train_tokenizer
    from transformers import AutoTokenizer

    prompts = [f"{INSTRUCTION}\n\n{sentence}\n" for sentence, _ in ROWS]
    start = shared_start(prompts)
    assert start == f"{INSTRUCTION}\n\n" and shared_start(prompts[:1]) == ""
    texts = [p + mr for p, (_, mr) in zip(prompts, ROWS, strict=True)]
    plain = train_tokenizer(texts, 400)
    tok = train_tokenizer(texts, 400, whole=[start])
    assert len(tok) == len(plain) + 1
    for prompt in prompts:
        ids = tok(prompt)["input_ids"]
        assert ids[:2] == [tok.bos_token_id, tok.convert_tokens_to_ids(start)]
        assert ids[2:] == plain(prompt[len(start) :], add_special_tokens=False)["input_ids"]
        assert tok.decode(ids, skip_special_tokens=True) == prompt
    # Without the instruction a row is tokenized as before; the saved tokenizer encodes alike.
    assert tok(ROWS[0][0])["input_ids"] == plain(ROWS[0][0])["input_ids"]
    assert len(plain(start, add_special_tokens=False)["input_ids"]) >= 20
    tok.save_pretrained(tmp_path)
    assert AutoTokenizer.from_pretrained(tmp_path)(prompts[0])["input_ids"] == tok(prompts[0])["input_ids"]

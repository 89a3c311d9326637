"""The scratch tokenizer: word-split (GPT-2 style) or merging across words, trained on real rows."""

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


def _texts() -> list[str]:
    return [f"{INSTRUCTION}\n\n{sentence}\n{mr}" for sentence, mr in ROWS]


def test_split_words_defaults_to_true_and_is_validated() -> None:
    config = HFConfig.model_validate({"model": {"init": "scratch"}})
    assert isinstance(config.model, ScratchModel) and config.model.split_words is True
    with pytest.raises(ValueError, match="split_words"):
        HFConfig.model_validate({"model": {"init": "scratch", "split_words": "sometimes"}})


def test_merging_across_words_turns_a_repeated_instruction_into_few_tokens(tmp_path: Path) -> None:
    from fteval_hf.scratch import train_tokenizer
    from transformers import AutoTokenizer

    words = train_tokenizer(_texts(), 600)
    across = train_tokenizer(_texts(), 600, split_words=False)
    n_words = len(words(INSTRUCTION, add_special_tokens=False)["input_ids"])
    n_across = len(across(INSTRUCTION, add_special_tokens=False)["input_ids"])
    assert n_words >= 20  # one or more tokens per word
    assert n_across * 3 <= n_words, (n_across, n_words)
    # Every row is shorter, and decoding gives the exact text back (bytes, spaces and all).
    for text in _texts():
        ids = across(text)["input_ids"]
        assert ids[0] == across.bos_token_id
        assert len(ids) < len(words(text)["input_ids"])
        assert across.decode(ids, skip_special_tokens=True) == text
    # A text it never saw still round-trips (byte-level fallback), and the saved tokenizer encodes alike.
    unseen = "verify_attribute(name[Zork], rating[poor]) — ünïcode ✓"
    assert across.decode(across(unseen, add_special_tokens=False)["input_ids"]) == unseen
    across.save_pretrained(tmp_path)
    again = AutoTokenizer.from_pretrained(tmp_path)
    assert again(_texts()[0])["input_ids"] == across(_texts()[0])["input_ids"]


def test_whole_strings_become_one_token_wherever_they_occur() -> None:
    from fteval_hf.scratch import shared_start, train_tokenizer

    prompts = [f"{INSTRUCTION}\n\n{sentence}\n" for sentence, _ in ROWS]
    start = shared_start(prompts)
    assert start == f"{INSTRUCTION}\n\n" and shared_start(prompts[:1]) == ""
    tok = train_tokenizer([p + mr for p, (_, mr) in zip(prompts, ROWS, strict=True)], 400, whole=[start])
    for prompt in prompts:
        ids = tok(prompt)["input_ids"]
        assert ids[:2] == [tok.bos_token_id, tok.convert_tokens_to_ids(start)]
        assert tok.decode(ids, skip_special_tokens=True) == prompt
    # A row without the instruction is tokenized as before; the instruction alone is one token.
    assert len(tok(ROWS[0][0], add_special_tokens=False)["input_ids"]) > 3
    assert len(tok(INSTRUCTION + "\n\n", add_special_tokens=False)["input_ids"]) == 1

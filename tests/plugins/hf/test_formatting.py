"""Prompt formatting and encoding: one encoding for training and generation, truncation reported."""

from __future__ import annotations

from pathlib import Path

from fteval_hf.formatting import encode_example, encode_prompt, prompt_text
from fteval_hf.loading import load_tokenizer

from fteval.plugin import Prompt


def test_prompt_text_joins_system_and_user_and_ends_in_whitespace() -> None:
    assert prompt_text(Prompt("Be brief.", "Say hi")) == "Be brief.\n\nSay hi\n"
    assert prompt_text(Prompt(None, "Answer:\n")) == "Answer:\n"


def test_training_row_starts_with_the_generation_prompt(tiny_hub_model: Path) -> None:
    tok = load_tokenizer(str(tiny_hub_model))
    prompt = Prompt("sys", "Colours of: sky")
    row = encode_example(tok, prompt, "red", max_len=100)
    head = encode_prompt(tok, prompt)
    assert list(row.ids[: row.prompt_len]) == head
    assert row.ids[0] == tok.bos_token_id and row.ids[-1] == tok.eos_token_id
    assert tok.decode(row.ids[row.prompt_len : -1]) == "red"
    assert not row.truncated


def test_long_rows_are_cut_at_the_end_and_flagged(tiny_hub_model: Path) -> None:
    tok = load_tokenizer(str(tiny_hub_model))
    row = encode_example(tok, Prompt(None, "Colours of: sky"), "red, " * 30, max_len=20)
    assert len(row.ids) == 20 and row.truncated
    assert row.ids[-1] != tok.eos_token_id

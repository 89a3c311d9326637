"""The `tokenizers` tokenizer of a saved folder, read without transformers, for the native runtime.

transformers' fast tokenizer (``TokenizersBackend`` / ``PreTrainedTokenizerFast``) encodes and
decodes with the folder's ``tokenizer.json`` and adds behaviour only through ``tokenizer_config.json``
options. :func:`tokenizer_reason` accepts a folder only when its config uses none that changes ids
or text (chat templates, BOS/EOS flags, clean-up of spaces), so :class:`NativeTokenizer` gives the
same ids and text as transformers' (tested); anything else loads through transformers.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

__all__ = ["NativeTokenizer", "tokenizer_reason"]

_CLASSES = {"TokenizersBackend", "PreTrainedTokenizerFast"}
# tokenizer_config.json keys that do not change ids or decoded text.
_INERT = {
    "backend",
    "bos_token",
    "eos_token",
    "pad_token",
    "unk_token",
    "model_max_length",
    "padding_side",
    "truncation_side",
    "tokenizer_class",
    "model_input_names",
    "added_tokens_decoder",
    "extra_special_tokens",
}


def _token(value: Any) -> str | None:
    """A special token's text from its config entry (a string or ``{"content": ...}``)."""
    if isinstance(value, dict):
        value = value.get("content")
    return value if isinstance(value, str) else None


def _config(folder: Path) -> dict[str, Any] | None:
    try:
        raw = json.loads((folder / "tokenizer_config.json").read_text())
    except (OSError, ValueError):
        return None
    return raw if isinstance(raw, dict) else None


def tokenizer_reason(folder: Path) -> str | None:
    """Why the folder's tokenizer needs transformers (None: :class:`NativeTokenizer` reads it exactly)."""
    return _reason(folder, _config(folder))


def _reason(folder: Path, config: dict[str, Any] | None) -> str | None:
    if config is None or not (folder / "tokenizer.json").is_file():
        return "no tokenizer.json with a readable tokenizer_config.json"
    if config.get("tokenizer_class") not in _CLASSES:
        return f"tokenizer_class {config.get('tokenizer_class')!r}"
    if config.get("clean_up_tokenization_spaces"):
        return "clean_up_tokenization_spaces is set"
    extra = sorted(set(config) - _INERT - {"clean_up_tokenization_spaces"})
    if extra:
        return f"tokenizer_config.json sets {', '.join(extra)}"
    if any(
        (folder / name).exists() for name in ("chat_template.jinja", "chat_template.json", "special_tokens_map.json")
    ):
        return "the folder has a chat template or a special-tokens map"
    if _token(config.get("eos_token")) is None:
        return "no EOS token"
    return None


class NativeTokenizer:
    """The subset of a transformers tokenizer that generation uses: call, decode, special ids."""

    chat_template = None

    def __init__(self, folder: Path) -> None:
        from tokenizers import Tokenizer

        config = _config(folder)
        why = _reason(folder, config)
        if why is not None or config is None:
            raise ValueError(f"the tokenizer in {folder} needs transformers: {why}")
        try:
            self._tok = Tokenizer.from_file(str(folder / "tokenizer.json"))
        except Exception as exc:  # tokenizers raises a bare Exception for a file it cannot read
            from fteval.errors import PluginError

            raise PluginError(
                f"{folder / 'tokenizer.json'} is not a tokenizer the tokenizers library reads ({exc})"
            ) from exc
        self.eos_token = _token(config.get("eos_token"))
        self.bos_token = _token(config.get("bos_token"))
        self.pad_token = _token(config.get("pad_token")) or self.eos_token  # as load_tokenizer does
        self.eos_token_id = self._id(self.eos_token)
        self.bos_token_id = self._id(self.bos_token)
        self.pad_token_id = self._id(self.pad_token)
        if self.eos_token_id is None or self.pad_token_id is None:
            raise ValueError(f"the tokenizer in {folder} does not know its EOS or pad token")

    def _id(self, token: str | None) -> int | None:
        return None if token is None else self._tok.token_to_id(token)

    def __call__(self, text: str, add_special_tokens: bool = True) -> dict[str, list[int]]:
        """``{"input_ids": ids}`` of ``text``, with the post-processor's special tokens when asked."""
        return {"input_ids": list(self._tok.encode(text, add_special_tokens=add_special_tokens).ids)}

    def decode(self, ids: list[int], skip_special_tokens: bool = False) -> str:
        """The text of ``ids``."""
        return str(self._tok.decode(list(ids), skip_special_tokens=skip_special_tokens))

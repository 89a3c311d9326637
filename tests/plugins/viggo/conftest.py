"""Fixtures for the ViGGO plugin tests."""

from __future__ import annotations

from collections.abc import Callable

import pytest
from viggo_helpers import SPLITS, read_rows


@pytest.fixture(scope="session")
def rows() -> dict[str, list[dict[str, str]]]:
    """Every split's rows."""
    return {split: read_rows(split) for split in SPLITS}


@pytest.fixture(scope="session")
def real(rows) -> Callable[..., str]:
    """A checker that asserts a string is a real MR (or, with ``ref=True``, a real sentence)."""
    mrs = {row["mr"] for split in rows.values() for row in split}
    refs = {row["ref"] for split in rows.values() for row in split}

    def check(text: str, *, ref: bool = False) -> str:
        assert text in (refs if ref else mrs), f"not a real {'sentence' if ref else 'MR'}: {text}"
        return text

    return check

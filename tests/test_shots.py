"""Shot selection (``fteval.data.shots``): fixed, seeded random and BM25-similar, never an eval question."""

from __future__ import annotations

import pytest

from fteval.data.shots import ShotPicker
from fteval.errors import FtevalError
from fteval.spec.pipespec import Shots
from fteval.testing import examples

pytestmark = pytest.mark.fast

TRAIN = examples([(f"how many singers are older than {i}", f"SELECT {i}") for i in range(12)])
TRAIN += examples([("list the stadium names", "SELECT name FROM stadium"), ("count the stadiums", "SELECT 1")])
EVAL = examples([("how many singers are older than 3", "SELECT 3"), ("list every stadium name", "SELECT name")])


def _picker(**shots: object) -> ShotPicker:
    return ShotPicker(Shots.model_validate(shots), TRAIN, EVAL, "{{ user }}")


def _users(picked: list) -> list[str]:
    return [e.prompt.user for e in picked]


def test_random_shots_are_stable_under_a_seed_and_change_with_it() -> None:
    first = [_users(_picker(k=4, select="random", seed=1).pick(e)) for e in EVAL]
    again = [_users(_picker(k=4, select="random", seed=1).pick(e)) for e in EVAL]
    other = [_users(_picker(k=4, select="random", seed=2).pick(e)) for e in EVAL]
    assert first == again and first != other
    assert all(len(p) == 4 for p in first)


@pytest.mark.parametrize("select", ["fixed", "random", "similar"])
def test_no_selection_ever_draws_an_eval_question(select: str) -> None:
    banned = {e.prompt.user for e in EVAL}
    for seed in range(20):
        picker = _picker(k=13, select=select, seed=seed)
        for example in EVAL:
            picked = _users(picker.pick(example))
            assert len(picked) == 13 and not banned & set(picked)  # 14 train rows, one is an eval question


def test_similar_shots_are_the_closest_by_bm25_and_ties_go_to_the_earlier_row() -> None:
    picked = _users(_picker(k=2, select="similar").pick(EVAL[1]))
    # only one row shares a word with "list every stadium name" (no stemming): the rest tie at 0
    assert picked == ["list the stadium names", "how many singers are older than 0"]
    singers = _users(_picker(k=2, select="similar").pick(EVAL[0]))
    assert singers == ["how many singers are older than 0", "how many singers are older than 1"]


def test_fixed_shots_take_the_named_rows_and_refuse_a_bad_index() -> None:
    assert _users(_picker(k=2, select="fixed", indexes=[12, 3, 0]).pick(EVAL[1])) == [
        "list the stadium names",
        "how many singers are older than 0",
    ]  # row 3 is the eval question "older than 3": skipped
    with pytest.raises(FtevalError, match="14 is not a train row index"):
        _picker(k=1, select="fixed", indexes=[14])

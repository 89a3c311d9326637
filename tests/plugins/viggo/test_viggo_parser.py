"""ViggoParser and the MR grammar, on real rows of the ViGGO data set."""

from __future__ import annotations

import json
import random

import pytest
from fteval_viggo.mr import LIST_SLOTS, scan_mr
from fteval_viggo.parser import ViggoParser
from hypothesis import given, settings
from hypothesis import strategies as st
from viggo_helpers import SPLITS, read_rows

from fteval.plugin import Parsed

pytestmark = pytest.mark.fast

DIVISION = (
    "inform(name[Tom Clancy's The Division], esrb[M (for Mature)], rating[average], "
    "genres[role-playing, shooter, tactical], player_perspective[third person], "
    "has_multiplayer[yes], platforms[PlayStation, Xbox, PC], available_on_steam[yes])"
)
NBA = "suggest(name[NBA 2K16], esrb[E 10+ (for Everyone 10 and Older)], has_multiplayer[yes])"
TETRIS = (
    "verify_attribute(name[Tetris], developer[Spectrum HoloByte, Inc.], rating[excellent], "
    "player_perspective[side view])"
)
WOW = (
    "inform(name[World of Warcraft: Battle for Azeroth], exp_release_date[August 14, 2018], "
    "genres[MMORPG], player_perspective[third person], platforms[PC])"
)
ESRB_REQUEST = "request_attribute(esrb[])"
PLATFORMS_REQUEST = "request_attribute(platforms[])"
LITTLE_BIG = (
    "verify_attribute(name[Little Big Adventure], rating[average], has_multiplayer[no], platforms[PlayStation])"
)
LITTLE_BIG_REF = (
    "I remember you saying you found Little Big Adventure to be average. Are you not usually "
    "that into single-player games on PlayStation?"
)

strict = ViggoParser()
lenient = ViggoParser(ViggoParser.Config(allow_surrounding_text=True))


def ok(text: str, parser: ViggoParser = strict) -> dict:
    """Parse ``text`` and insist it succeeded."""
    parsed = parser.parse(text)
    assert parsed.ok, parsed.error
    return parsed.value


def fail(text: str, parser: ViggoParser = strict) -> str:
    """Parse ``text`` and insist it failed with a reason."""
    parsed = parser.parse(text)
    assert not parsed.ok and parsed.value is None, parsed
    assert parsed.error
    return parsed.error


def shuffled(mr: str, seed: int) -> str:
    """The same MR with its slots and list items in another order."""
    parsed, _ = scan_mr(mr)
    rng = random.Random(seed)
    slots = list(parsed.slots)
    rng.shuffle(slots)
    out = []
    for name, value in slots:
        items = value.split(", ")
        rng.shuffle(items)
        out.append(f"{name}[{', '.join(items) if name in LIST_SLOTS else value}]")
    return f"{parsed.function}({', '.join(out)})"


@pytest.mark.parametrize("split", SPLITS)
def test_every_mr_in_the_data_parses_and_round_trips(split):
    rows = read_rows(split)
    assert rows
    for row in rows:
        value = ok(row["mr"])
        parsed, end = scan_mr(row["mr"])
        assert end == len(row["mr"])
        assert parsed.to_text() == row["mr"]
        assert value["function"] == row["mr"].split("(", 1)[0]
        assert json.loads(json.dumps(value)) == value


def test_values_keep_commas_apostrophes_spaces_and_parentheses(real):
    value = ok(real(DIVISION))
    assert value == {
        "function": "inform",
        "slots": {
            "available_on_steam": "yes",
            "esrb": "M (for Mature)",
            "genres": ["role-playing", "shooter", "tactical"],
            "has_multiplayer": "yes",
            "name": "Tom Clancy's The Division",
            "platforms": ["PC", "PlayStation", "Xbox"],
            "player_perspective": ["third person"],
            "rating": "average",
        },
    }
    assert list(value["slots"]) == sorted(value["slots"])
    assert ok(real(NBA))["slots"]["esrb"] == "E 10+ (for Everyone 10 and Older)"


def test_commas_in_scalar_slots_are_not_split(real):
    assert ok(real(TETRIS))["slots"]["developer"] == "Spectrum HoloByte, Inc."
    assert ok(real(WOW))["slots"]["exp_release_date"] == "August 14, 2018"


def test_list_slots_become_sorted_item_sets(real):
    mr = real(
        "inform(name[The Legend of Zelda: Ocarina of Time], release_year[1998], "
        "developer[Nintendo EAD], esrb[E (for Everyone)], "
        "genres[action-adventure, puzzle, role-playing], "
        "player_perspective[bird view, third person])"
    )
    slots = ok(mr)["slots"]
    assert slots["genres"] == ["action-adventure", "puzzle", "role-playing"]
    assert slots["player_perspective"] == ["bird view", "third person"]
    doubled = mr.replace("genres[action-adventure,", "genres[puzzle, action-adventure,")
    assert ok(doubled) == ok(mr)


def test_empty_values(real):
    assert ok(real(ESRB_REQUEST)) == {"function": "request_attribute", "slots": {"esrb": ""}}
    assert ok(real(PLATFORMS_REQUEST))["slots"] == {"platforms": []}


@pytest.mark.parametrize("seed", range(5))
def test_equality_ignores_slot_and_item_order(real, seed):
    reordered = shuffled(real(DIVISION), seed)
    assert ok(reordered) == ok(DIVISION)
    assert json.dumps(ok(reordered)) == json.dumps(ok(DIVISION))


def test_different_values_or_functions_are_not_equal(real):
    assert ok(DIVISION.replace("tactical", "strategy")) != ok(real(DIVISION))
    assert ok(DIVISION.replace("inform(", "recommend(")) != ok(DIVISION)
    assert ok(DIVISION.replace(", rating[average]", "")) != ok(DIVISION)


def test_whitespace_around_and_inside_the_mr_is_tolerated(real):
    assert ok(f"  {real(LITTLE_BIG)}\n") == ok(LITTLE_BIG)
    assert ok(
        " verify_attribute ( name[ Little Big Adventure ] ,rating[average],"
        "has_multiplayer[no], platforms[PlayStation] ) "
    ) == ok(LITTLE_BIG)


@pytest.mark.parametrize("text", ["", "   ", "\n\t\n"])
def test_empty_output_fails(text):
    assert fail(text) == "empty output"


def test_free_text_fails(real):
    assert fail(real(LITTLE_BIG_REF, ref=True)).startswith("free text")


def test_text_before_the_mr_fails_by_default(real):
    error = fail(f"Meaning representation: {real(LITTLE_BIG)}")
    assert error == "text before the MR: 'Meaning representation: '"


def test_text_after_the_mr_fails_by_default(real):
    error = fail(f"{real(LITTLE_BIG)}\n### Target sentence:\n{real(LITTLE_BIG_REF, ref=True)}")
    assert error.startswith("text after the MR: '### Target sentence:")
    assert fail(f"{LITTLE_BIG} {LITTLE_BIG}").startswith("text after the MR")


def test_surrounding_text_is_ignored_when_allowed(real):
    expected = ok(real(LITTLE_BIG))
    assert ok(f"Sure! Here it is: {LITTLE_BIG} Hope this helps.", lenient) == expected
    assert ok(f"{LITTLE_BIG}\n{real(LITTLE_BIG_REF, ref=True)}", lenient) == expected
    assert ok(f"{LITTLE_BIG}))", lenient) == expected
    assert fail(LITTLE_BIG_REF, lenient).startswith("free text")
    assert fail("", lenient) == "empty output"


@pytest.mark.parametrize(
    ("broken", "reason"),
    [
        (LITTLE_BIG[:-1], "unbalanced brackets: '(' is never closed"),
        (LITTLE_BIG[:-2], "unbalanced brackets: '[' of slot 'platforms' is never closed"),
        (LITTLE_BIG.replace("[average]", "[average"), "unbalanced brackets: '[' inside the value"),
        (LITTLE_BIG.replace("[no]", "[no]]"), "unbalanced brackets: stray ']' after slot"),
        (LITTLE_BIG + ")", "unbalanced brackets: stray ')' after the MR"),
        (LITTLE_BIG.replace("[PlayStation])", "[PlayStation],)"), "expected a slot name"),
        (LITTLE_BIG.replace("[average], ", "[average] "), "expected ',' or ')' after slot 'rating"),
        (LITTLE_BIG.replace("rating[average]", "rating average"), "expected '[' after slot"),
        (LITTLE_BIG.replace("rating[average]", "name[Tetris]"), "slot 'name' appears twice"),
        (LITTLE_BIG.replace("verify_attribute(", "verify_attribute "), "free text"),
    ],
)
def test_malformed_mrs_fail_with_a_reason(real, broken, reason):
    real(LITTLE_BIG)
    assert reason in fail(broken)


def _mutations() -> st.SearchStrategy[str]:
    """Real MRs with random slices deleted or replaced by bracket-heavy noise."""
    mrs = [DIVISION, NBA, TETRIS, WOW, ESRB_REQUEST, LITTLE_BIG]
    noise = st.text(alphabet="[](),  _aZ\n'", max_size=6)

    @st.composite
    def mutate(draw) -> str:
        text = draw(st.sampled_from(mrs))
        for _ in range(draw(st.integers(1, 3))):
            i = draw(st.integers(0, len(text)))
            j = draw(st.integers(i, min(len(text), i + 8)))
            text = text[:i] + draw(noise) + text[j:]
        return text

    return mutate()


def _check_never_raises(text: str) -> None:
    for parser in (strict, lenient):
        parsed = parser.parse(text)
        assert isinstance(parsed, Parsed)
        if parsed.ok:
            assert parsed.error is None
            assert json.loads(json.dumps(parsed.value)) == parsed.value
            assert set(parsed.value) == {"function", "slots"}
        else:
            assert parsed.value is None and parsed.error


@settings(max_examples=300, deadline=None)
@given(st.text())
def test_parser_never_raises_on_arbitrary_text(text):
    _check_never_raises(text)


@settings(max_examples=300, deadline=None)
@given(_mutations())
def test_parser_never_raises_on_mutated_real_mrs(text):
    _check_never_raises(text)

"""Human ratings without a browser: sheets (seeded, blinded), the CSV round trip, import errors, agreement."""

from __future__ import annotations

import csv
import json
from pathlib import Path

import pytest
from fteval_testutil import fteval_cli, fteval_run
from rating_helpers import d2t_lookup_runs

from fteval.errors import UsageError
from fteval.ratings.sheet import build_sheet, parse_scale
from fteval.ratings.summary import krippendorff_alpha
from fteval.storage.store import Store

pytest.importorskip("sacrebleu")


@pytest.fixture(scope="module")
def runs(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, str, str]:
    return d2t_lookup_runs(tmp_path_factory.mktemp("ratings"), eval_limit=30)


def _copy(runs: tuple[Path, str, str], tmp_path: Path) -> Path:
    db = tmp_path / "runs.db"
    db.write_bytes(runs[0].read_bytes())
    return db


def test_sheets_are_seeded_shuffled_and_blinded(runs: tuple[Path, str, str]) -> None:
    db, weak, full = runs
    store = Store(db)
    try:
        pair = [store.get_run(weak), store.get_run(full)]
        examples = [store.examples(r.id) for r in pair]
        one = build_sheet(pair, examples, seed=1, limit=10)
        again = build_sheet(pair, examples, seed=1, limit=10)
        other = build_sheet(pair, examples, seed=2, limit=10)
        assert one.id == again.id and one.items == again.items
        assert one.id != other.id and [i.idx for i in one.items] != [i.idx for i in other.items]
        assert [i.idx for i in one.items] != sorted(i.idx for i in one.items)  # shuffled
        firsts = {i.runs[0] for i in one.items}
        assert firsts == {weak, full}  # the output order differs between items
        single = build_sheet(pair[:1], examples[:1], seed=1, limit=None)
        assert len(single.items) == 30 and all(i.runs == (weak,) for i in single.items)
    finally:
        store.close()


def test_scale_and_pairs_are_checked(runs: tuple[Path, str, str], tmp_path: Path) -> None:
    assert parse_scale("1-5") == (1, 5) and parse_scale("0-1") == (0, 1)
    for bad in ("5", "5-1", "a-b", "0-20"):
        with pytest.raises(UsageError, match="--scale"):
            parse_scale(bad)
    out = fteval_run("rate", runs[1], "latest", "--html", str(tmp_path / "x.html"), store=runs[0])
    assert out.returncode == 0, out.stderr  # latest is the full run of the same spec
    out = fteval_run("rate", runs[1], "--seed", "1", store=runs[0])
    assert out.returncode == 2 and "--html FILE and/or --csv FILE" in out.stderr


def _fill(path: Path, rate: dict[tuple[str, str], str]) -> None:
    rows = list(csv.reader(path.open(encoding="utf-8")))
    for row in rows[1:]:
        row[6] = rate.get((row[1], row[2]), "")
    with path.open("w", encoding="utf-8", newline="") as f:
        csv.writer(f).writerows(rows)


def test_csv_round_trip_two_raters_agreement_and_report(runs: tuple[Path, str, str], tmp_path: Path) -> None:
    db = _copy(runs, tmp_path)
    weak, full = runs[1], runs[2]
    sheets = []
    for rater in ("bo", "cy"):
        path = tmp_path / f"{rater}.csv"
        out = fteval_run("rate", weak, full, "--csv", str(path), "--limit", "6", "--seed", "5", store=db)
        assert out.returncode == 0, out.stderr
        assert (tmp_path / f"{rater}.rubric.txt").read_text(encoding="utf-8").startswith("Rate each output")
        rows = list(csv.DictReader(path.open(encoding="utf-8")))
        assert len(rows) == 12 and {r["output"] for r in rows} == {"1", "2"}
        assert weak not in path.read_text(encoding="utf-8")
        sheets.append(rows[0]["sheet"])
        # bo: 5 when the output is the reference, else 2; cy agrees except on one output
        rate = {(r["item"], r["output"]): "5" if r["output_text"] == r["reference"] else "2" for r in rows}
        if rater == "cy":
            rate[("1", "1")] = "3"
        _fill(path, rate)
        out = fteval_run("rate", "import", str(path), "--rater", rater, store=db)
        assert out.returncode == 0 and "imported 12 of 12 outputs" in out.stderr, out.stderr
    assert sheets[0] == sheets[1]  # the same arguments make the same sheet
    out = fteval_run("report", weak, full, "--md", "-", store=db)
    assert out.returncode == 0, out.stderr
    assert "2 rater(s) (bo, cy)" in out.stdout and "Krippendorff's alpha (ordinal)" in out.stdout
    assert "on the 6 examples rated for both" in out.stdout
    page = tmp_path / "report.html"
    assert fteval_run("report", weak, full, "--html", str(page), store=db).returncode == 0
    html = page.read_text(encoding="utf-8")
    assert '<section id="ratings"><h2>Human ratings</h2>' in html and "Krippendorff&#x27;s alpha (ordinal)" in html
    # a re-import by the same rater replaces theirs, it does not add
    out = fteval_run("rate", "import", str(tmp_path / "cy.csv"), "--rater", "cy", store=db)
    assert out.returncode == 0
    store = Store(db)
    try:
        n = store.db.execute("SELECT COUNT(*) FROM ratings").fetchone()[0]
    finally:
        store.close()
    assert n == 24


def test_bad_ratings_files_name_the_line_and_store_nothing(runs: tuple[Path, str, str], tmp_path: Path) -> None:
    db = _copy(runs, tmp_path)
    path = tmp_path / "r.csv"
    assert fteval_run("rate", runs[1], "--csv", str(path), "--limit", "3", store=db).returncode == 0
    _fill(path, {("1", "1"): "7", ("2", "1"): "x", ("3", "1"): "4"})
    out = fteval_run("rate", "import", str(path), "--rater", "dee", store=db)
    assert out.returncode == 2
    assert f"{path}:2: rating '7' is not an integer from 1 to 5" in out.stderr
    # the second row starts on line 6: each row's input holds the two-line system message and a blank line
    assert f"{path}:6: rating 'x' is not an integer from 1 to 5" in out.stderr
    assert "nothing imported" in out.stderr
    out = fteval_run("rate", "import", str(path), store=db)
    assert out.returncode == 2 and "pass --rater NAME" in out.stderr
    page = tmp_path / "r.json"
    sheet = list(csv.DictReader(path.open(encoding="utf-8")))[0]["sheet"]
    page.write_text(
        json.dumps(
            {
                "fteval_ratings": 1,
                "sheet": sheet,
                "rater": "eve",
                "ratings": [{"item": 9, "output": 1, "rating": 3}, {"item": 1, "output": 1, "rating": 3, "x": 1}],
            }
        ),
        encoding="utf-8",
    )
    out = fteval_run("rate", "import", str(page), store=db)
    assert out.returncode == 2 and "ratings[1]: unknown keys x" in out.stderr
    page.write_text(page.read_text().replace(', "x": 1', ""), encoding="utf-8")
    out = fteval_run("rate", "import", str(page), store=db)
    assert out.returncode == 2 and f"{page}: ratings[0]: item 9 output 1 is not on sheet {sheet}" in out.stderr
    page.write_text(page.read_text().replace(sheet, "000000000000"), encoding="utf-8")
    out = fteval_run("rate", "import", str(page), store=db)
    assert out.returncode == 2 and "rating sheet '000000000000' is not in" in out.stderr
    store = Store(db)
    try:
        assert store.db.execute("SELECT COUNT(*) FROM ratings").fetchone()[0] == 0
    finally:
        store.close()


def test_alpha_is_krippendorffs_with_a_ci() -> None:
    krippendorff = pytest.importorskip("krippendorff")
    import numpy as np

    a = [1, 2, 3, 3, 2, 1, 4, 1, 2, 5, 5, 4]
    b = [1, 2, 3, 3, 2, 2, 4, 1, 2, 5, 4, 4]
    units = {("r", i): {"a": float(x), "b": float(y)} for i, (x, y) in enumerate(zip(a, b, strict=True))}
    units[("r", 99)] = {"a": 3.0}  # rated once: not a unit for agreement
    got = krippendorff_alpha(units, ["a", "b"], (1, 5))
    expected = krippendorff.alpha(
        np.array([a, b], dtype=float), value_domain=[1, 2, 3, 4, 5], level_of_measurement="ordinal"
    )
    assert got.alpha == pytest.approx(expected) and got.units == 12 and got.level == "ordinal"
    assert got.ci_low is not None and got.ci_high is not None and got.ci_low < got.alpha <= got.ci_high
    same = krippendorff_alpha({("r", i): {"a": 3.0, "b": 3.0} for i in range(4)}, ["a", "b"], (1, 5))
    assert same.alpha is None and "every rating is the same" in same.note
    assert krippendorff_alpha(units, ["a"], (0, 1)).note == "needs two raters"


def _memory_capped() -> None:
    """Run the CLI under a 2 GiB address-space cap, so an unbounded read fails instead of filling the machine."""
    import resource

    resource.setrlimit(resource.RLIMIT_AS, (2 << 30, 2 << 30))


def test_a_ratings_file_or_rubric_that_is_a_device_is_refused_before_reading(
    runs: tuple[Path, str, str], tmp_path: Path
) -> None:
    db = _copy(runs, tmp_path)
    out = fteval_cli("rate", "import", "/dev/zero", "--rater", "dee", store=db, preexec_fn=_memory_capped, timeout=60)
    assert out.returncode == 2 and "Traceback" not in out.stderr
    assert "/dev/zero: cannot read the ratings file: not a regular file" in out.stderr
    sheet = tmp_path / "r.csv"
    out = fteval_cli(
        "rate", runs[1], "--csv", str(sheet), "--rubric", "/dev/zero", store=db, preexec_fn=_memory_capped, timeout=60
    )
    assert out.returncode == 2 and "Traceback" not in out.stderr
    assert "/dev/zero: cannot read the rubric: not a regular file" in out.stderr and not sheet.exists()


def test_the_csv_sheet_keeps_model_outputs_inert_in_a_spreadsheet(tmp_path: Path) -> None:
    """An output such as =HYPERLINK(...) must reach the rater as text, not as a formula their spreadsheet runs."""
    from fteval_testutil import SPECS

    data = tmp_path / "rows.csv"
    data.write_text('q,a\n"=HYPERLINK(""http://127.0.0.1/x"",""y"")",@SUM(1)\n+1,-2\nplain,text\n', encoding="utf-8")
    spec = tmp_path / "s.yaml"
    spec.write_text(
        f"extends: {SPECS / 'yesno.yaml'}\ndataset: {{train: {{path: rows.csv}}, eval: {{path: rows.csv}}}}\n"
        'prompt: {system: null, user: "{{ q }}", target: "{{ a }}"}\nparser: text\nmetrics: [exact_match]\n'
    )
    db = tmp_path / "r.db"
    assert fteval_run("run", str(spec), store=db).returncode == 0
    sheet = tmp_path / "sheet.csv"
    assert fteval_run("rate", "latest", "--all", "--csv", str(sheet), store=db).returncode == 0
    cells = [c for row in csv.DictReader(sheet.open(encoding="utf-8")) for c in row.values() if c]
    assert '\'=HYPERLINK("http://127.0.0.1/x","y")' in cells and "'@SUM(1)" in cells and "'+1" in cells
    assert "'-2" in cells and "plain" in cells and not any(c[0] in "=+-@" for c in cells)


def test_a_deeply_nested_ratings_file_is_a_clear_error(runs: tuple[Path, str, str], tmp_path: Path) -> None:
    db = _copy(runs, tmp_path)
    deep = tmp_path / "deep.json"
    deep.write_text('{"fteval_ratings": 1, "sheet": "x", "ratings": ' + "[" * 100_000 + "]" * 100_000 + "}")
    out = fteval_run("rate", "import", str(deep), "--rater", "dee", store=db)
    assert out.returncode == 2 and "Traceback" not in out.stderr, out.stderr
    assert f"{deep}: not a ratings file: JSON nested too deeply" in out.stderr

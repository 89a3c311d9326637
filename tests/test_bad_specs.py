"""The bad-spec corpus: every file in tests/bad_specs/ must fail with exactly the issues it declares.

Each case starts with ``# expect: [FILE:]LINE:COL KEY.PATH :: MESSAGE`` lines, one per issue. FILE is
relative to the case (default: the case itself), KEY.PATH is ``-`` for none and may hold ``*``
wildcards, and MESSAGE is a substring of the message; `` ... `` separates parts that must appear in
that order.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import pytest

from fteval.errors import Issue, SpecError
from fteval.spec.loader import load_spec

CORPUS = Path(__file__).parent / "bad_specs"
CASES = sorted(CORPUS.glob("*.yaml"))
_EXPECT = re.compile(r"^# expect: (?:(?P<file>[^\s:]+):)?(?P<line>\d+):(?P<col>\d+) (?P<path>\S+) :: (?P<message>.+)$")


@dataclass(frozen=True)
class Expected:
    """One issue a case declares."""

    file: Path
    line: int
    col: int
    path: str
    parts: tuple[str, ...]

    def matches(self, issue: Issue) -> bool:
        """Whether ``issue`` is this one: same file, line, col, key path, message parts in order."""
        if (Path(issue.file).resolve(), issue.line, issue.col) != (self.file, self.line, self.col):
            return False
        pattern = "" if self.path == "-" else re.escape(self.path).replace(r"\*", ".*")
        if not re.fullmatch(pattern, issue.path):
            return False
        at = 0
        for part in self.parts:
            at = issue.message.find(part, at)
            if at < 0:
                return False
            at += len(part)
        return True

    def __str__(self) -> str:
        return f"{self.file.name}:{self.line}:{self.col} {self.path} :: {' ... '.join(self.parts)}"


def expectations(case: Path) -> list[Expected]:
    """The ``# expect:`` lines of a case."""
    out = []
    for text in case.read_text(encoding="utf-8").splitlines():
        if not text.startswith("# expect:"):
            continue
        m = _EXPECT.match(text)
        assert m, f"{case.name}: malformed expect line {text!r}"
        file = (case.parent / m["file"]).resolve() if m["file"] else case.resolve()
        parts = tuple(m["message"].split(" ... "))
        out.append(Expected(file, int(m["line"]), int(m["col"]), m["path"], parts))
    return out


@pytest.mark.fast
def test_corpus_is_large_enough() -> None:
    assert len(CASES) >= 18
    assert all(expectations(case) for case in CASES), "every case declares at least one issue"
    assert max(len(expectations(case)) for case in CASES) >= 3


@pytest.mark.fast
@pytest.mark.parametrize("case", CASES, ids=[c.stem for c in CASES])
def test_bad_spec_reports_exactly_its_issues(case: Path) -> None:
    expected = expectations(case)
    start = time.perf_counter()
    with pytest.raises(SpecError) as info:
        load_spec(case)
    elapsed = time.perf_counter() - start
    assert elapsed < 2.0, f"{case.name} took {elapsed:.2f} s to reject"
    issues = list(info.value.issues)
    unmatched = list(issues)
    missing = []
    for exp in expected:
        hit = next((i for i in unmatched if exp.matches(i)), None)
        if hit is None:
            missing.append(exp)
        else:
            unmatched.remove(hit)
    report = "\n".join(str(i) for i in issues)
    assert not missing, "not reported: " + "; ".join(map(str, missing)) + "\ngot:\n" + report
    assert not unmatched, "unexpected issues:\n" + "\n".join(map(str, unmatched))


@pytest.mark.fast
def test_python_tag_is_never_executed(tmp_path: Path) -> None:
    marker = tmp_path / "pwned"
    spec = tmp_path / "evil.yaml"
    spec.write_text(f'fteval: 1\nname: !!python/object/apply:os.system ["touch {marker}"]\n', encoding="utf-8")
    with pytest.raises(SpecError):
        load_spec(spec)
    assert not marker.exists()


def test_cli_validate_reports_all_issues_without_traceback() -> None:
    case = CORPUS / "many_errors.yaml"
    fteval = Path(sys.executable).with_name("fteval")
    cmd = [str(fteval)] if fteval.exists() else [sys.executable, "-m", "fteval"]
    env = {**os.environ, "NO_COLOR": "1"}
    proc = subprocess.run([*cmd, "validate", str(case)], capture_output=True, text=True, timeout=60, env=env)
    assert proc.returncode == 2, proc.stderr
    assert "Traceback" not in proc.stderr
    lines = [line for line in proc.stderr.splitlines() if line.strip()]
    expected = expectations(case)
    assert len(lines) == len(expected), proc.stderr
    line_re = re.compile(r"^(?P<file>.+?):(?P<line>\d+):(?P<col>\d+): (?P<path>[\w.\[\]]+): (?P<message>.+)$")
    for exp in expected:
        hits = [m for m in map(line_re.match, lines) if m]
        assert any(
            exp.matches(Issue(m["file"], int(m["line"]), int(m["col"]), m["path"], m["message"])) for m in hits
        ), f"{exp} not in:\n{proc.stderr}"
    assert all(line_re.match(line) for line in lines), proc.stderr

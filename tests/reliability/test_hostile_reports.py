"""Reports of hostile names, data and outputs: inert Markdown (no HTML, images, links, mentions), plain-text plots.

Issue 27: target names reached Markdown headings unescaped, images, links and @mentions in outputs
passed through table cells (the PR comment of the CI recipe), and a target named ``$x$`` crashed
``report`` (matplotlib math text).
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from reliability_util import run_cli

from fteval.report.mdsafe import WORD_JOINER, md_text

HOSTILE = "![pixel](http://evil.example/t.png) [click](javascript:alert(1)) @octocat <img src=x onerror=alert(1)>"
NAME = "<b>x</b> @octocat $x^{$"  # even dollars: matplotlib parsed it as math text and crashed


def _spec(tmp_path: Path) -> Path:
    (tmp_path / "train.csv").write_text(f'question,answer\nq1,"{HOSTILE}"\nq2,www.evil.example\n')
    (tmp_path / "eval.csv").write_text(f'question,answer\n"q1 {HOSTILE}",right\nq2,x\nq3,y\n')
    spec = tmp_path / "spec.yaml"
    spec.write_text(
        "fteval: 1\nname: hostile\n"
        "dataset:\n  train: {path: train.csv}\n  eval: {path: eval.csv}\n"
        'prompt:\n  user: "{{ question }}"\n  target: "{{ answer }}"\n'
        "parser: text\nmetrics: [exact_match]\n"
        f"targets:\n  '{NAME}': {{trainer: lookup}}\n  plain: {{trainer: lookup}}\n"
    )
    return spec


def _visible_markdown_problems(md: str) -> list[str]:
    """What GitHub would turn into HTML, an image, a link or a mention."""
    found = []
    for pattern in (r"<(?!/?(details|summary)>)", r"!\[[^\]]*\]\(", r"\]\(", r"(?<![\\\w])@\w", r"https?://", r"www\."):
        found += [m[0] for m in re.finditer(pattern, md)]
    return found


def test_report_markdown_is_inert_and_plots_take_any_name(tmp_path: Path) -> None:
    pytest.importorskip("matplotlib")
    spec = _spec(tmp_path)
    ran = run_cli("run", str(spec), tmp_path=tmp_path)
    assert ran.returncode == 0, ran.stderr[-2000:]
    out = run_cli("report", str(spec), "--md", "-", "--html", str(tmp_path / "r.html"), tmp_path=tmp_path)
    assert out.returncode == 0 and "Traceback" not in out.stderr, out.stderr[-2000:]
    md = out.stdout
    assert "paired on 3 examples" in md and "1 of 3 wrong" not in md  # the comparison heading is there
    assert _visible_markdown_problems(md) == []
    assert f"&lt;b&gt;x&lt;/b&gt; @{WORD_JOINER}octocat $x^{{$" in md  # the name, shown as typed, heading included
    assert "\\![pixel]\\(http:" in md  # the output's image shown as text, in the worst-examples table
    page = (tmp_path / "r.html").read_text(encoding="utf-8")
    plots = re.findall(r"<svg.*?</svg>", page, re.S)
    assert any("octocat $x^{$" in svg for svg in plots)  # a plot labelled with the name as plain text


@pytest.mark.parametrize(
    ("text", "shown"),
    [
        ("<script>x</script>", "&lt;script&gt;x&lt;/script&gt;"),
        ("a|b", "a\\|b"),
        ("![i](http://e/p.png)", f"\\![i]\\(http:{WORD_JOINER}//e/p.png)"),
        ("see https://e.example", f"see https:{WORD_JOINER}//e.example"),
        ("hi @team/all", f"hi @{WORD_JOINER}team/all"),
        ("&lt;b&gt;", "&amp;lt;b&amp;gt;"),
        ("0.500 [0.299, 0.701]", "0.500 [0.299, 0.701]"),
    ],
)
def test_md_text(text: str, shown: str) -> None:
    assert md_text(text) == shown

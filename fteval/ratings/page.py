"""The rating page (one self-contained HTML file, strict CSP) and the rating CSV for a sheet.

Neither names a run, a target or a model: outputs are numbered per item in the sheet's shuffled order.
"""

from __future__ import annotations

import base64
import csv
import hashlib
import json
from collections.abc import Sequence
from html import escape
from importlib import resources
from pathlib import Path
from typing import Any

from fteval.ratings.sheet import ItemView, RatingSheet

__all__ = ["CSV_COLUMNS", "render_rating_page", "write_rating_csv"]

CSV_COLUMNS = ("sheet", "item", "output", "input", "reference", "output_text", "rating", "comment")


def _asset(name: str) -> str:
    return resources.files("fteval.ratings").joinpath("assets", name).read_text(encoding="utf-8")


def _json_for_script(data: Any) -> str:
    """JSON safe inside a <script> element."""
    text = json.dumps(data, ensure_ascii=False, separators=(",", ":"))
    return text.replace("<", "\\u003c").replace(">", "\\u003e").replace("&", "\\u0026")


def render_rating_page(
    sheet: RatingSheet, views: Sequence[ItemView], *, title: str = "Rate outputs", show_reference: bool = True
) -> str:
    """The rating page: the rubric, every item with its outputs and a scale, and an export button.

    Args:
        sheet: The stored sheet (its id goes into the exported file).
        views: What the rater sees of each item.
        title: The page title.
        show_reference: Whether the gold reference is shown to the rater.

    Returns:
        One HTML document that makes no request (Content-Security-Policy ``default-src 'none'``).
    """
    script = _asset("rate.js")
    digest = base64.b64encode(hashlib.sha256(script.encode()).digest()).decode()
    csp = f"default-src 'none'; style-src 'unsafe-inline'; script-src 'sha256-{digest}'; base-uri 'none'"
    data = {
        "sheet": sheet.id,
        "scale": [sheet.scale_min, sheet.scale_max],
        "items": [
            {
                "n": v.number,
                "system": v.system,
                "user": v.user,
                "reference": v.reference if show_reference else None,
                "outputs": list(v.outputs),
            }
            for v in views
        ],
    }
    n_outputs = sum(len(v.outputs) for v in views)
    blind = " The outputs are numbered in a random order; the page does not say which system wrote them."
    return (
        "<!DOCTYPE html>\n"
        '<html lang="en"><head><meta charset="utf-8">'
        f'<meta http-equiv="Content-Security-Policy" content="{csp}">'
        '<meta name="viewport" content="width=device-width, initial-scale=1">'
        f"<title>{escape(title)}</title><style>{_asset('rate.css')}</style></head><body>"
        f"<header><h1>{escape(title)}</h1>"
        f'<p class="note">Sheet {escape(sheet.id)}: {len(views)} items, {n_outputs} outputs to rate from '
        f"{sheet.scale_min} (worst) to {sheet.scale_max} (best).{blind if max(map(len, (v.outputs for v in views)), default=1) > 1 else ''}"
        " Your ratings are kept in this browser until you export them.</p>"
        f'<div class="rubric" id="rubric">{escape(sheet.rubric)}</div></header>'
        '<div class="bar"><label>Your name <input id="rater" type="text" autocomplete="name"></label> '
        '<span id="progress"></span> <button id="export" type="button">Export ratings</button> '
        '<span id="export-message" class="note"></span></div>'
        '<main id="items"><noscript>The rating page needs JavaScript.</noscript></main>'
        '<details><summary>exported file</summary><p class="note">If your browser blocks the download, copy this '
        'text into a file and import that.</p><textarea id="export-text" readonly></textarea></details>'
        f'<script type="application/json" id="fteval-rating-data">{_json_for_script(data)}</script>'
        f"<script>{script}</script></body></html>\n"
    )


def _inert(cell: str) -> str:
    """A text cell a spreadsheet shows as text: a leading ``=``, ``+``, ``-``, ``@``, tab or CR would start a formula."""
    return f"'{cell}" if cell[:1] in ("=", "+", "-", "@", "\t", "\r") else cell


def write_rating_csv(sheet: RatingSheet, views: Sequence[ItemView], path: Path, *, show_reference: bool = True) -> None:
    """A CSV with one row per output to rate: fill in ``rating`` (and ``comment``), then import it."""
    with path.open("w", encoding="utf-8", newline="") as f:
        writer = csv.writer(f)
        writer.writerow(CSV_COLUMNS)
        for v in views:
            user = f"{v.system}\n\n{v.user}" if v.system else v.user
            for k, output in enumerate(v.outputs, start=1):
                reference = v.reference if show_reference else ""
                writer.writerow([sheet.id, v.number, k, _inert(user), _inert(reference), _inert(output), "", ""])

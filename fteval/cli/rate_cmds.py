"""``fteval rate``: a blinded rating page (or CSV) for a run or a pair of runs; ``fteval rate import``."""

from __future__ import annotations

from pathlib import Path

import click

from fteval.errors import UsageError

_HELP = """Human ratings of free-form outputs.

\b
fteval rate RUN [RUN_B] --html rate.html   write a rating page (same as `fteval rate page ...`)
fteval rate RUN --csv rate.csv             ... or a CSV to fill in
fteval rate import FILE [--rater NAME]     load a rater's ratings back into the store

The report (`fteval report`) then shows each run's mean rating with a 95% CI, Krippendorff's
alpha between raters and, for a pair of runs, the paired difference.
"""

_PAGE_HELP = """Write a rating page (--html) or CSV (--csv) for RUN, or for RUN and RUN_B side by side.

\b
--limit examples are drawn with --seed and shown in a shuffled order; with two runs each item
shows both outputs in a random order, so the rater cannot tell which system wrote which. The
sheet (runs, seed, scale, rubric, items) is stored, so only the store knows who wrote what. The
page is one self-contained file (no network); the rater enters a name, rates each output on
--scale and exports a ratings file for `fteval rate import`.
"""


class _DefaultPage(click.Group):
    """``fteval rate RUN ...`` means ``fteval rate page RUN ...``."""

    def parse_args(self, ctx: click.Context, args: list[str]) -> list[str]:
        if args and args[0] not in self.commands and args[0] not in ("-h", "--help"):
            args = ["page", *args]
        return super().parse_args(ctx, args)


def _read_rubric(path: Path) -> str:
    """The rubric file's text; a device, a pipe, a huge or a non-UTF-8 file is refused before reading it all.

    Raises:
        UsageError: naming the file and what is wrong with it.
    """
    from fteval.data.textfile import TextFileError, decode_utf8, read_regular

    try:
        return decode_utf8(read_regular(path, 1 << 20)).strip()
    except TextFileError as exc:
        raise UsageError(f"{path}: cannot read the rubric: {exc.message}") from None
    except OSError as exc:
        raise UsageError(f"cannot read {path}: {exc}") from None


@click.group("rate", cls=_DefaultPage, help=_HELP)
def rate() -> None:
    """Human ratings (see the help text)."""


@rate.command("page", help=_PAGE_HELP)
@click.argument("refs", nargs=-1, required=True, metavar="RUN [RUN_B]")
@click.option("--html", "html_file", type=click.Path(dir_okay=False, path_type=Path), help="Write the page here.")
@click.option("--csv", "csv_file", type=click.Path(dir_okay=False, path_type=Path), help="Write a CSV here.")
@click.option("--limit", default=30, show_default=True, type=click.IntRange(1), help="Items on the sheet.")
@click.option("--all", "all_items", is_flag=True, help="Every example (ignores --limit).")
@click.option("--seed", default=0, show_default=True, type=int, help="Seed of the draw and of the shuffles.")
@click.option("--scale", default="1-5", show_default=True, help="Rating scale LOW-HIGH (0-1: pass/fail).")
@click.option(
    "--rubric",
    "rubric_file",
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    help="A text file with the instructions shown to raters [default: a generic rubric].",
)
@click.option("--no-reference", is_flag=True, help="Do not show the gold reference to raters.")
@click.option("--title", default="Rate outputs", show_default=True, help="The page title.")
@click.pass_context
def page(
    ctx: click.Context,
    refs: tuple[str, ...],
    html_file: Path | None,
    csv_file: Path | None,
    limit: int,
    all_items: bool,
    seed: int,
    scale: str,
    rubric_file: Path | None,
    no_reference: bool,
    title: str,
) -> None:
    """Write the rating page or CSV (see the help text)."""
    from fteval.ratings.page import render_rating_page, write_rating_csv
    from fteval.ratings.sheet import DEFAULT_RUBRIC, build_sheet, item_views, parse_scale
    from fteval.ratings.storage import save_sheet
    from fteval.storage.refs import resolve_pair, resolve_run
    from fteval.storage.store import Store

    if len(refs) > 2:
        raise UsageError("rate one run or a pair of runs (RUN [RUN_B])")
    if html_file is None and csv_file is None:
        raise UsageError("say where to write the sheet: --html FILE and/or --csv FILE")
    bounds = parse_scale(scale)
    rubric = _read_rubric(rubric_file) if rubric_file else DEFAULT_RUBRIC
    store = Store(ctx.obj["store"])
    try:
        runs = list(resolve_pair(store, refs[0], refs[1])) if len(refs) == 2 else [resolve_run(store, refs[0])]
        examples = {r.id: store.examples(r.id) for r in runs}
        sheet = build_sheet(
            runs,
            [examples[r.id] for r in runs],
            seed=seed,
            limit=None if all_items else limit,
            scale=bounds,
            rubric=rubric,
        )
        save_sheet(store, sheet)
        views = item_views(sheet, examples)
        outputs = sum(len(v.outputs) for v in views)
        if html_file is not None:
            html_file.parent.mkdir(parents=True, exist_ok=True)
            text = render_rating_page(sheet, views, title=title, show_reference=not no_reference)
            html_file.write_text(text, encoding="utf-8")
            click.echo(f"wrote {html_file}: sheet {sheet.id}, {len(views)} items, {outputs} outputs", err=True)
        if csv_file is not None:
            csv_file.parent.mkdir(parents=True, exist_ok=True)
            write_rating_csv(sheet, views, csv_file, show_reference=not no_reference)
            rubric_path = csv_file.with_suffix(".rubric.txt")
            rubric_path.write_text(rubric + "\n", encoding="utf-8")
            click.echo(
                f"wrote {csv_file} (fill in 'rating', {bounds[0]}-{bounds[1]}) and its rubric {rubric_path}: "
                f"sheet {sheet.id}, {outputs} outputs",
                err=True,
            )
    finally:
        store.close()


@rate.command("import")
@click.argument("file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--rater", help="The rater's name [default: the name in the page's export; required for a CSV].")
@click.pass_context
def import_ratings(ctx: click.Context, file: Path, rater: str | None) -> None:
    """Load a ratings file (the page's export, or the filled-in CSV) into the store, as one rater's ratings.

    Importing the same rater's file again replaces their earlier ratings on that sheet.
    """
    from fteval.ratings.importer import read_ratings_file, to_ratings
    from fteval.ratings.storage import load_sheet, save_ratings
    from fteval.storage.store import Store

    read = read_ratings_file(file)
    who = (rater or read.rater or "").strip()
    if not who:
        raise UsageError(f"{file}: no rater name in the file: pass --rater NAME")
    store = Store(ctx.obj["store"])
    try:
        sheet = load_sheet(store, read.sheet_id)
        ratings = to_ratings(read, sheet, who)
        save_ratings(store, sheet.id, who, ratings)
        total = sum(len(i.runs) for i in sheet.items)
        click.echo(f"imported {len(ratings)} of {total} outputs of sheet {sheet.id} rated by {who!r}", err=True)
    finally:
        store.close()

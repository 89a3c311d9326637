"""``fteval report``: runs as one self-contained HTML file or as Markdown (see ``build_report``)."""

from __future__ import annotations

from fteval.report.model import Report, build_report

__all__ = ["Report", "build_report"]

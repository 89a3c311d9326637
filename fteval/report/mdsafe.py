"""Untrusted text (data, model outputs, target names) made inert for Markdown: no HTML, images, links or mentions."""

from __future__ import annotations

import re

__all__ = ["WORD_JOINER", "md_text"]

#: An invisible character that breaks a mention (``@user``) or an autolink (``https://``, ``www.``).
WORD_JOINER = "\u2060"
_MENTION = re.compile(r"@(?=[A-Za-z0-9_])")
_SCHEME = re.compile(r"(?i)(?<![a-z0-9+.-])([a-z][a-z0-9+.-]{0,31}):(?=//)")
_WWW = re.compile(r"(?i)\b(www)\.")


def md_text(text: str) -> str:
    """``text`` on one line, safe in a Markdown table cell, heading or ``<summary>``.

    HTML is escaped (``&``, ``<``, ``>``), table pipes and backslashes are escaped, backticks become
    quotes, inline links and images lose their ``](`` (``[x]\\(y)`` shows as typed), and a word
    joiner after ``@``, a URL scheme's ``:`` and ``www`` stops GitHub's mentions and autolinks.
    """
    out = " ".join(text.split())
    out = out.replace("\\", "\\\\").replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
    out = out.replace("|", "\\|").replace("`", "'").replace("](", "]\\(").replace("![", "\\![")
    out = _MENTION.sub("@" + WORD_JOINER, out)
    out = _SCHEME.sub(lambda m: m[1] + ":" + WORD_JOINER, out)
    return _WWW.sub(lambda m: m[1] + WORD_JOINER + ".", out)

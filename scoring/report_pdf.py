"""The month's report as PDF: the HTML report laid out on A4 by WeasyPrint, for the copy that
is printed, signed and stamped. The CJK text needs a CJK font installed (Debian's
fonts-noto-cjk; the HTML names Noto Sans CJK SC first). WeasyPrint is imported only here, so
the other formats never pay for it."""

from __future__ import annotations

import logging


def render_pdf(html: str) -> bytes:
    """PDF bytes of an HTML report (self-contained: nothing is fetched)."""
    from weasyprint import HTML

    # WeasyPrint warns about CSS it ignores (screen-only properties); the report's CSS is ours.
    logging.getLogger("weasyprint").setLevel(logging.ERROR)
    logging.getLogger("fontTools").setLevel(logging.ERROR)
    pdf = HTML(string=html, url_fetcher=_refuse).write_pdf()
    assert pdf is not None
    return pdf


def _refuse(url: str, *args: object, **kwargs: object) -> dict:
    raise ValueError(f"the report loads nothing from outside ({url[:60]})")

"""What a printed or displayed record may show of a person, and the QR drawn on printed papers."""

from __future__ import annotations

import segno


def mask_name(name: str | None) -> str:
    """A name with every character but the first and last hidden: 张*英, 李*, 欧**娜."""
    text = (name or "").strip()
    if len(text) <= 1:
        return "*" if text else ""
    if len(text) == 2:
        return text[0] + "*"
    return text[0] + "*" * (len(text) - 2) + text[-1]


def qr_svg(text: str) -> str:
    """The QR code of ``text`` as inline SVG that scales with its box."""
    code = segno.make(text, error="l", micro=False)
    svg: str = code.svg_inline(scale=1, border=2, omitsize=True, title="扫码验真")
    return svg

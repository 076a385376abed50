#!/usr/bin/env python
"""Draw flash-logo.png: a lightning-bolt mark and the "Flash" wordmark on a dark rounded card.

The PNG is committed; run this again after changing the design:

    python scripts/make_logo.py [output.png]

Needs Pillow and a bold sans font: DejaVu Sans Bold from matplotlib's data (the `bench` extra)
or the system's fonts. Drawn at 4x and scaled down, so every edge is smoothly anti-aliased; the
output depends only on the font, so reruns give the same picture.
"""

from __future__ import annotations

import sys
from pathlib import Path

from PIL import Image, ImageDraw, ImageFont

WIDTH, HEIGHT, SCALE = 600, 200, 4
CARD = (17, 24, 39)  # slate-900: reads on light and dark README themes alike
WORD = (248, 250, 252)
TAGLINE = (148, 163, 184)
CIRCLE = ((99, 102, 241), (147, 51, 234))  # indigo to violet, top-left to bottom-right
BOLT = ((253, 224, 71), (245, 158, 11))  # yellow to amber, top to bottom
# The bolt as a polygon in a unit square: a flat top, a notch each way, a sharp tip.
BOLT_SHAPE = [(0.60, 0.02), (0.21, 0.57), (0.47, 0.57), (0.37, 0.98), (0.80, 0.41), (0.54, 0.41), (0.71, 0.02)]
FONT_NAMES = {
    True: ["DejaVuSans-Bold.ttf", "LiberationSans-Bold.ttf", "Arial Bold.ttf", "arialbd.ttf"],
    False: ["DejaVuSans.ttf", "LiberationSans-Regular.ttf", "Arial.ttf", "arial.ttf"],
}
FONT_DIRS = [
    "/usr/share/fonts/truetype/dejavu",
    "/usr/share/fonts/truetype/liberation",
    "/usr/share/fonts/TTF",
    "/Library/Fonts",
    "C:/Windows/Fonts",
]


def font(size: int, bold: bool = True) -> ImageFont.FreeTypeFont:
    """The first sans font found: matplotlib's bundled DejaVu first (the same on every machine)."""
    candidates = []
    try:
        import matplotlib

        candidates.append(Path(matplotlib.get_data_path()) / "fonts" / "ttf" / FONT_NAMES[bold][0])
    except ImportError:
        pass
    candidates += [Path(d) / name for d in FONT_DIRS for name in FONT_NAMES[bold]]
    for path in candidates:
        if path.exists():
            return ImageFont.truetype(str(path), size)
    raise SystemExit("No sans font found: pip install matplotlib (it bundles DejaVu Sans).")


def gradient(size: tuple[int, int], start: tuple[int, int, int], end: tuple[int, int, int], diagonal: bool) -> Image.Image:
    """An RGBA image fading from `start` to `end`, top to bottom (or top-left to bottom-right)."""
    width, height = size
    steps = width + height if diagonal else height
    ramp = Image.new("RGBA", (steps, 1))
    for i in range(steps):
        t = i / max(steps - 1, 1)
        ramp.putpixel((i, 0), tuple(round(a + (b - a) * t) for a, b in zip(start, end)) + (255,))
    if not diagonal:  # a left-to-right ramp turned clockwise runs top to bottom
        return ramp.transpose(Image.Transpose.ROTATE_270).resize(size)
    image = Image.new("RGBA", size)
    for y in range(height):
        image.paste(ramp.crop((y, 0, y + width, 1)), (0, y))
    return image


def draw(path: Path) -> None:
    w, h = WIDTH * SCALE, HEIGHT * SCALE
    image = Image.new("RGBA", (w, h), (0, 0, 0, 0))
    ImageDraw.Draw(image).rounded_rectangle((0, 0, w - 1, h - 1), radius=36 * SCALE, fill=CARD + (255,))

    # The mark: a gradient disc with the bolt on it.
    diameter, left, top = 136 * SCALE, 32 * SCALE, 32 * SCALE
    disc = Image.new("L", (diameter, diameter), 0)
    ImageDraw.Draw(disc).ellipse((0, 0, diameter - 1, diameter - 1), fill=255)
    image.paste(gradient((diameter, diameter), *CIRCLE, diagonal=True), (left, top), disc)
    box = int(diameter * 0.68)
    inset = (diameter - box) // 2
    bolt = Image.new("L", (box, box), 0)
    ImageDraw.Draw(bolt).polygon([(x * box, y * box) for x, y in BOLT_SHAPE], fill=255)
    shadow = Image.new("RGBA", (box, box), (49, 21, 110, 255))  # a deep violet offset: depth, not blur
    image.paste(shadow, (left + inset + 3 * SCALE, top + inset + 3 * SCALE), bolt)
    image.paste(gradient((box, box), *BOLT, diagonal=False), (left + inset, top + inset), bolt)

    # The wordmark and a tagline, as one block centred on the mark.
    pen = ImageDraw.Draw(image)
    word, tagline = font(92 * SCALE), font(22 * SCALE, bold=False)
    x = left + diameter + 30 * SCALE
    word_box = pen.textbbox((0, 0), "Flash", font=word)
    tag_box = pen.textbbox((0, 0), "async Dash, streaming", font=tagline)
    gap = 14 * SCALE
    block = (word_box[3] - word_box[1]) + gap + (tag_box[3] - tag_box[1])
    y = top + diameter // 2 - block // 2
    pen.text((x - word_box[0], y - word_box[1]), "Flash", font=word, fill=WORD)
    y += word_box[3] - word_box[1] + gap
    pen.text((x + 4 * SCALE - tag_box[0], y - tag_box[1]), "async Dash, streaming", font=tagline, fill=TAGLINE)

    image.resize((WIDTH, HEIGHT), Image.Resampling.LANCZOS).save(path, optimize=True)


if __name__ == "__main__":
    target = Path(sys.argv[1]) if len(sys.argv) > 1 else Path(__file__).resolve().parent.parent / "flash-logo.png"
    draw(target)
    print(f"wrote {target}")

"""The app's two Teams icons, drawn in code and written as PNG without any imaging library.

Teams wants a full-colour icon of 192x192 pixels and an outline icon of 32x32 pixels that is white
on a transparent background. Both show a shield with a tick (the policy keeps pupils and staff safe).
Shapes are described in unit coordinates (0..1, y pointing down) and sampled several times per pixel,
so edges are smooth at both sizes. Drawing takes about a second, so each icon is drawn once a process.
"""

from __future__ import annotations

import math
import struct
import zlib
from collections.abc import Callable
from functools import cache

COLOR_ICON_SIZE = 192
OUTLINE_ICON_SIZE = 32

RGB = tuple[int, int, int]
WHITE: RGB = (255, 255, 255)

# The shield: a flat top, straight sides, then a curve down to a point.
_SHIELD_TOP = 0.14
_SHIELD_SHOULDER = 0.50
_SHIELD_TIP = 0.90
_SHIELD_HALF_WIDTH = 0.32
# The tick: two strokes meeting at the bottom.
_TICK = ((0.36, 0.50), (0.46, 0.62), (0.65, 0.39))


def encode_png(width: int, height: int, rgba: bytes) -> bytes:
    """Encode 8-bit RGBA pixels (rows top to bottom, 4 bytes a pixel) as a PNG file."""
    if len(rgba) != width * height * 4:
        raise ValueError(f"expected {width * height * 4} bytes of RGBA, got {len(rgba)}")
    stride = width * 4
    # Each scanline starts with filter type 0 (none).
    raw = b"".join(b"\x00" + rgba[row * stride : (row + 1) * stride] for row in range(height))

    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

    header = struct.pack(">IIBBBBB", width, height, 8, 6, 0, 0, 0)  # 8-bit RGBA, no interlace
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", zlib.compress(raw, 9)) + chunk(b"IEND", b"")


def _shield_half_width(y: float, inset: float) -> float:
    """Half the shield's width at height y (unit coordinates), shrunk by `inset`; negative if outside."""
    if y < _SHIELD_TOP + inset or y > _SHIELD_TIP - inset:
        return -1.0
    if y <= _SHIELD_SHOULDER:
        return _SHIELD_HALF_WIDTH - inset
    t = (y - _SHIELD_SHOULDER) / (_SHIELD_TIP - _SHIELD_SHOULDER)
    return _SHIELD_HALF_WIDTH * math.cos(t * math.pi / 2) - inset


def _in_shield(x: float, y: float, inset: float = 0.0) -> bool:
    return abs(x - 0.5) <= _shield_half_width(y, inset)


def _distance_to_segment(x: float, y: float, a: tuple[float, float], b: tuple[float, float]) -> float:
    ax, ay = a
    bx, by = b
    dx, dy = bx - ax, by - ay
    t = max(0.0, min(1.0, ((x - ax) * dx + (y - ay) * dy) / (dx * dx + dy * dy)))
    return math.hypot(x - (ax + t * dx), y - (ay + t * dy))


def _on_tick(x: float, y: float, half_thickness: float) -> bool:
    return any(_distance_to_segment(x, y, _TICK[i], _TICK[i + 1]) <= half_thickness for i in range(len(_TICK) - 1))


def _coverage(size: int, samples: int, inside: Callable[[float, float], bool]) -> list[float]:
    """The fraction of each pixel (row by row) that lies inside a shape, by supersampling."""
    offsets = [(i + 0.5) / samples for i in range(samples)]
    total = samples * samples
    result: list[float] = []
    for row in range(size):
        for col in range(size):
            hits = sum(1 for oy in offsets for ox in offsets if inside((col + ox) / size, (row + oy) / size))
            result.append(hits / total)
    return result


def _mix(a: RGB, b: RGB, amount: float) -> RGB:
    """`a` blended towards `b` by `amount` (0..1)."""
    return tuple(round(ca + (cb - ca) * amount) for ca, cb in zip(a, b, strict=True))  # type: ignore[return-value]


def hex_to_rgb(color: str) -> RGB:
    """`#rrggbb` to an (r, g, b) tuple."""
    value = color.lstrip("#")
    if len(value) != 6:
        raise ValueError(f"expected a colour like #1e5aa8, got {color!r}")
    return (int(value[0:2], 16), int(value[2:4], 16), int(value[4:6], 16))


@cache
def color_icon(accent: RGB, size: int = COLOR_ICON_SIZE) -> bytes:
    """The full-colour icon: a white shield with an accent-coloured tick on an accent background."""
    shield = _coverage(size, 3, lambda x, y: _in_shield(x, y))
    tick = _coverage(size, 3, lambda x, y: _on_tick(x, y, 0.045))
    pixels = bytearray()
    for shield_part, tick_part in zip(shield, tick, strict=True):
        colour = _mix(accent, WHITE, shield_part)
        colour = _mix(colour, accent, tick_part * shield_part)
        pixels.extend((*colour, 255))
    return encode_png(size, size, bytes(pixels))


@cache
def outline_icon(size: int = OUTLINE_ICON_SIZE) -> bytes:
    """The outline icon: the shield's border and the tick in white, everything else transparent.

    Every pixel is pure white; only its opacity varies (anti-aliased edges), as Teams asks.
    """
    stroke = 2.2 / size  # about two pixels wide at 32x32

    def inside(x: float, y: float) -> bool:
        ring = _in_shield(x, y) and not _in_shield(x, y, inset=stroke)
        return ring or _on_tick(x, y, stroke * 0.6)

    pixels = bytearray()
    for part in _coverage(size, 4, inside):
        pixels.extend((*WHITE, round(255 * part)))
    return encode_png(size, size, bytes(pixels))

"""A PNG decoder from the standard library (zlib), for checking what a browser painted.

Enough for the screenshots headless Chromium writes: 8 bits a channel, grey, RGB or RGBA, no
interlacing, any of the five row filters. Pure Python: a 1280 x 2000 screenshot takes seconds.
"""

from __future__ import annotations

import struct
import zlib
from collections import Counter
from dataclasses import dataclass

_SIGNATURE = b"\x89PNG\r\n\x1a\n"
_CHANNELS = {0: 1, 2: 3, 4: 2, 6: 4}
"""Channels per pixel for each colour type (grey, RGB, grey + alpha, RGBA)."""


@dataclass(frozen=True)
class Picture:
    width: int
    height: int
    channels: int
    rows: list[bytes]
    """Unfiltered scanlines, `width * channels` bytes each."""

    def colours(self) -> Counter[bytes]:
        """How many pixels have each colour (its channels' bytes, alpha included)."""
        counts: Counter[bytes] = Counter()
        step = self.channels
        for row in self.rows:
            counts.update(row[i : i + step] for i in range(0, len(row), step))
        return counts


def decode(data: bytes) -> Picture:
    """The picture in a PNG file; ValueError for anything that is not one this reads."""
    if not data.startswith(_SIGNATURE):
        raise ValueError("not a PNG file (no signature)")
    pos, header, compressed = len(_SIGNATURE), b"", bytearray()
    while pos < len(data):
        (length,) = struct.unpack(">I", data[pos : pos + 4])
        kind, body = data[pos + 4 : pos + 8], data[pos + 8 : pos + 8 + length]
        pos += 12 + length
        if kind == b"IHDR":
            header = body
        elif kind == b"IDAT":
            compressed += body
        elif kind == b"IEND":
            break
    if not header:
        raise ValueError("PNG without IHDR")
    width, height, depth, colour_type, _, _, interlace = struct.unpack(">IIBBBBB", header)
    if depth != 8 or colour_type not in _CHANNELS or interlace:
        raise ValueError(f"PNG not read here: depth {depth}, colour type {colour_type}, interlace {interlace}")
    channels = _CHANNELS[colour_type]
    raw = zlib.decompress(bytes(compressed))
    stride = width * channels
    if len(raw) != height * (stride + 1):
        raise ValueError(f"PNG data is {len(raw)} bytes, expected {height * (stride + 1)}")
    rows, previous = [], bytes(stride)
    for y in range(height):
        start = y * (stride + 1)
        row = _unfilter(raw[start], bytearray(raw[start + 1 : start + 1 + stride]), previous, channels)
        rows.append(row)
        previous = row
    return Picture(width, height, channels, rows)


def _unfilter(kind: int, row: bytearray, up: bytes, bpp: int) -> bytes:
    """Undo one scanline's filter (PNG specification, section 9)."""
    if kind == 0:
        return bytes(row)
    if kind == 2:
        return bytes((a + b) & 0xFF for a, b in zip(row, up, strict=True))
    for i in range(len(row)):
        left = row[i - bpp] if i >= bpp else 0
        if kind == 1:
            row[i] = (row[i] + left) & 0xFF
        elif kind == 3:
            row[i] = (row[i] + (left + up[i]) // 2) & 0xFF
        elif kind == 4:
            corner = up[i - bpp] if i >= bpp else 0
            estimate = left + up[i] - corner
            far_left, far_up, far_corner = abs(estimate - left), abs(estimate - up[i]), abs(estimate - corner)
            if far_left <= far_up and far_left <= far_corner:
                predictor = left
            elif far_up <= far_corner:
                predictor = up[i]
            else:
                predictor = corner
            row[i] = (row[i] + predictor) & 0xFF
        else:
            raise ValueError(f"PNG row filter {kind} is not one of 0-4")
    return bytes(row)

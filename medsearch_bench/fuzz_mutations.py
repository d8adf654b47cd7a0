"""Hostile variants of real image files: what the decoder fuzzer feeds to MedSearch's decoders.

Every mutation takes the bytes of a sample file and a seeded :class:`random.Random` and returns
new bytes: cut short, bits flipped, runs overwritten, image sizes in the PNG IHDR, JPEG SOF and
TIFF tags set to huge or zero values, DICOM element lengths and transfer syntaxes made up, and
PNG "zip bombs" (a small file that inflates to a huge image). Checksums are fixed where the
format has one (PNG CRCs), so a mutated header reaches the decoder instead of failing early.
"""

from __future__ import annotations

import functools
import io
import random
import struct
import zlib
from collections.abc import Callable

from PIL import Image

Mutation = Callable[[bytes, random.Random], bytes]

_PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
#: sizes that break naive arithmetic: zero, one, 16-bit and 31-bit limits
_HUGE = (0, 1, 65_535, 65_536, 100_000, 2**31 - 1, 2**32 - 1)
#: transfer syntaxes a DICOM file may claim: real ones its pixels are not in, and made-up ones
_TRANSFER_SYNTAXES = (
    "1.2.840.10008.1.2",  # implicit VR little endian
    "1.2.840.10008.1.2.2",  # explicit VR big endian
    "1.2.840.10008.1.2.1.99",  # deflated
    "1.2.840.10008.1.2.4.50",  # JPEG baseline
    "1.2.840.10008.1.2.4.70",  # JPEG lossless
    "1.2.840.10008.1.2.4.80",  # JPEG-LS
    "1.2.840.10008.1.2.4.90",  # JPEG 2000
    "1.2.840.10008.1.2.5",  # RLE
    "1.2.3.4.5.6.7.8.9",
    "",
)
#: DICOM elements whose length or value the mutations aim at: (group, element)
_DICOM_TARGETS = (
    (0x7FE0, 0x0010),  # Pixel Data
    (0x0028, 0x0010),  # Rows
    (0x0028, 0x0011),  # Columns
    (0x0028, 0x0100),  # Bits Allocated
    (0x0028, 0x0101),  # Bits Stored
    (0x0028, 0x0002),  # Samples per Pixel
    (0x0028, 0x0008),  # Number of Frames
    (0x0028, 0x0004),  # Photometric Interpretation
    (0x0002, 0x0000),  # File Meta Information Group Length
)
#: bombs up to this side inflate in full; larger ones are beyond the default pixel limit
_BOMB_FULL_SIDE = 9_000
_LONG_VRS = {b"OB", b"OD", b"OF", b"OL", b"OW", b"SQ", b"UC", b"UN", b"UR", b"UT", b"OV"}


def truncate(data: bytes, rng: random.Random) -> bytes:
    return data[: rng.randrange(len(data))]


def bit_flips(data: bytes, rng: random.Random) -> bytes:
    out = bytearray(data)
    for _ in range(rng.randint(1, 32)):
        position = rng.randrange(len(out))
        out[position] ^= 1 << rng.randrange(8)
    return bytes(out)


def header_flips(data: bytes, rng: random.Random) -> bytes:
    """Bit flips in the first kilobyte, where the headers are."""
    head = bit_flips(data[:1024], rng)
    return head + data[1024:]


def byte_runs(data: bytes, rng: random.Random) -> bytes:
    out = bytearray(data)
    start = rng.randrange(len(out))
    length = min(len(out) - start, rng.randint(1, 256))
    fill = rng.choice((b"\x00", b"\xff", None))
    out[start : start + length] = (
        fill * length if fill else bytes(rng.randrange(256) for _ in range(length))
    )
    return bytes(out)


def png_dimensions(data: bytes, rng: random.Random) -> bytes:
    """A PNG whose IHDR claims another width and height (CRC fixed)."""
    if not data.startswith(_PNG_SIGNATURE):
        return bit_flips(data, rng)
    ihdr = bytearray(data[16:29])  # width, height, depth, colour type, compression, filter, lace
    ihdr[0:8] = struct.pack(">II", rng.choice(_HUGE), rng.choice(_HUGE))
    if rng.random() < 0.3:
        ihdr[8] = rng.choice((1, 2, 4, 8, 16, 0, 255))
    return data[:12] + _png_chunk_tail(b"IHDR", bytes(ihdr)) + data[33:]


def png_bomb(data: bytes, rng: random.Random) -> bytes:
    """A small PNG of a huge all-black image (the compressed stream of all-zero rows)."""
    side = rng.choice((4_000, 9_000, 20_000, 60_000))
    colour = rng.choice((0, 2))  # greyscale or RGB
    ihdr = struct.pack(">IIBBBBB", side, side, 8, colour, 0, 0, 0)
    idat = _zero_rows(side, 3 if colour == 2 else 1)
    return (
        _PNG_SIGNATURE
        + _png_chunk(b"IHDR", ihdr)
        + _png_chunk(b"IDAT", idat)
        + _png_chunk(b"IEND", b"")
    )


def jpeg_dimensions(data: bytes, rng: random.Random) -> bytes:
    """A JPEG whose start-of-frame header claims another height and width."""
    for marker in (b"\xff\xc0", b"\xff\xc1", b"\xff\xc2"):
        at = data.find(marker)
        if at >= 0:
            out = bytearray(data)
            # marker, length (2), precision (1), height (2), width (2)
            out[at + 5 : at + 9] = struct.pack(
                ">HH", rng.choice((0, 1, 65_535, 65_500)), rng.choice((0, 1, 65_535, 65_500))
            )
            return bytes(out)
    return bit_flips(data, rng)


def tiff_tags(data: bytes, rng: random.Random) -> bytes:
    """The sample made a TIFF, then one of its size or strip tags set to a huge value."""
    tiff = _as_tiff(data)
    out = bytearray(tiff)
    (ifd,) = struct.unpack_from("<I", out, 4)
    (count,) = struct.unpack_from("<H", out, ifd)
    entries = [ifd + 2 + 12 * n for n in range(count)]
    wanted = {256, 257, 258, 273, 277, 278, 279}  # sizes, bits, strips, samples
    targets = [e for e in entries if struct.unpack_from("<H", out, e)[0] in wanted] or entries
    for entry in rng.sample(targets, k=min(len(targets), rng.randint(1, 2))):
        # as a LONG, so any 32-bit value fits
        struct.pack_into("<HII", out, entry + 2, 4, 1, rng.choice(_HUGE))
    return bytes(out)


def dicom_lengths(data: bytes, rng: random.Random) -> bytes:
    """A DICOM file with the length of an element that matters replaced by a made-up one."""
    out = bytearray(data)
    places = _dicom_elements(out)
    if not places:
        return bit_flips(data, rng)
    at, long_form = rng.choice(places)
    if long_form:
        struct.pack_into("<I", out, at + 8, rng.choice((0, 1, 0xFFFFFFFF, 0x7FFFFFFF, 2**24)))
    else:
        struct.pack_into("<H", out, at + 6, rng.choice((0, 1, 3, 0xFFFF)))
    return bytes(out)


def dicom_values(data: bytes, rng: random.Random) -> bytes:
    """A DICOM file with Rows, Columns, Bits or Frames set to a huge or zero value."""
    out = bytearray(data)
    places = [(at, form) for at, form in _dicom_elements(out) if not form]
    if not places:
        return bit_flips(data, rng)
    at, _ = rng.choice(places)
    (length,) = struct.unpack_from("<H", out, at + 6)
    if length == 2:
        struct.pack_into("<H", out, at + 8, rng.choice((0, 1, 33, 64, 0xFFFF)))
    elif 0 < length <= 16:
        value = rng.choice((b"0", b"65535", b"99999999", b"-1", b"PALETTE COLOR", b"YBR_FULL"))
        out[at + 8 : at + 8 + length] = value[:length].ljust(length, b" ")
    return bytes(out)


def dicom_transfer_syntax(data: bytes, rng: random.Random) -> bytes:
    """A DICOM file that claims another transfer syntax than its pixel data are in."""
    at = data.find(b"\x02\x00\x10\x00UI")
    if at < 0:
        return bit_flips(data, rng)
    (length,) = struct.unpack_from("<H", data, at + 6)
    uid = rng.choice(_TRANSFER_SYNTAXES).encode()
    if len(uid) % 2:
        uid += b"\x00"
    return data[: at + 6] + struct.pack("<H", len(uid)) + uid + data[at + 8 + length :]


#: mutations for each kind of source file (TIFF cases are made from the raster samples)
MUTATIONS: dict[str, tuple[Mutation, ...]] = {
    "png": (truncate, bit_flips, header_flips, byte_runs, png_dimensions, png_bomb),
    "jpeg": (truncate, bit_flips, header_flips, byte_runs, jpeg_dimensions),
    "tiff": (tiff_tags,),
    "dicom": (
        truncate,
        bit_flips,
        header_flips,
        byte_runs,
        dicom_lengths,
        dicom_values,
        dicom_transfer_syntax,
    ),
}


def _png_chunk(kind: bytes, body: bytes) -> bytes:
    return struct.pack(">I", len(body)) + _png_chunk_tail(kind, body)


def _png_chunk_tail(kind: bytes, body: bytes) -> bytes:
    return kind + body + struct.pack(">I", zlib.crc32(kind + body))


@functools.lru_cache(maxsize=8)
def _zero_rows(side: int, channels: int) -> bytes:
    """The zlib stream of ``side`` rows of ``side`` black pixels (filter byte 0 each).

    Past the pixel limit's reach the decoder refuses the header alone: only the first rows
    are written then, to keep making the file cheap.
    """
    compressor = zlib.compressobj(9)
    row = bytes(1 + side * channels)
    rows = side if side <= _BOMB_FULL_SIDE else 100
    parts = [compressor.compress(row) for _ in range(rows)]
    parts.append(compressor.flush())
    return b"".join(parts)


@functools.lru_cache(maxsize=64)
def _as_tiff(data: bytes) -> bytes:
    """An uncompressed little-endian TIFF of a raster sample, at most 256 px on a side."""
    with Image.open(io.BytesIO(data)) as image:
        image.thumbnail((256, 256))
        buffer = io.BytesIO()
        image.convert("RGB").save(buffer, "TIFF")
    return buffer.getvalue()


def _dicom_elements(data: bytearray) -> list[tuple[int, bool]]:
    """Offsets of the targeted explicit-VR elements and whether each has a 4-byte length."""
    places = []
    for group, element in _DICOM_TARGETS:
        tag = struct.pack("<HH", group, element)
        at = data.find(tag, 128)
        if at >= 0 and at + 12 <= len(data) and data[at + 4 : at + 6].isalpha():
            places.append((at, bytes(data[at + 4 : at + 6]) in _LONG_VRS))
    return places

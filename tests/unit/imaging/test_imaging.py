"""Decoding of every supported image kind, by content, with typed errors for bad files."""

from __future__ import annotations

import io
import struct
import zlib
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from PIL import Image, ImageFile

from indexer.errors import UnreadableImageError
from indexer.imaging.decode import (
    IMAGE_FORMATS,
    IMAGE_SUFFIXES,
    DecodedImage,
    decode_image_bytes,
    load_image,
    sniff_file,
    sniff_format,
)
from tests.support.helpers import SAMPLE_IMAGES

SAMPLE_FILES = sorted(SAMPLE_IMAGES.iterdir())
SUFFIX_FORMATS = {".jpg": "jpeg", ".png": "png", ".dcm": "dicom"}


def encode(image: Image.Image, format_: str, **options: object) -> bytes:
    buffer = io.BytesIO()
    image.save(buffer, format_, **options)
    return buffer.getvalue()


def reason_of(data: bytes, **options: Any) -> str:
    with pytest.raises(UnreadableImageError) as caught:
        decode_image_bytes(data, **options)
    return caught.value.reason


def test_public_constants() -> None:
    assert IMAGE_FORMATS == ("png", "jpeg", "tiff", "bmp", "webp", "gif", "dicom")
    assert {".png", ".jpg", ".jpeg", ".tif", ".tiff", ".dcm", ".dicom"} <= IMAGE_SUFFIXES
    assert all(suffix == suffix.lower() and suffix.startswith(".") for suffix in IMAGE_SUFFIXES)


@pytest.mark.parametrize("path", SAMPLE_FILES, ids=lambda path: path.name)
def test_every_sample_file_decodes_to_rgb(path: Path) -> None:
    decoded = load_image(path)
    assert isinstance(decoded, DecodedImage)
    assert decoded.format == SUFFIX_FORMATS[path.suffix]
    assert decoded.image.mode == "RGB"
    assert decoded.image.size == (decoded.width, decoded.height)
    assert 32 <= min(decoded.width, decoded.height) and max(decoded.width, decoded.height) <= 4096
    pixels = np.asarray(decoded.image)
    assert pixels.std() > 5, "a rendered image should not be flat"
    if decoded.format == "dicom":
        assert decoded.metadata["modality"] in {"CR", "CT", "MR", "NM", "US"}
    else:
        assert decoded.metadata == {}


def test_sample_corpus_has_all_thirteen_dicoms() -> None:
    assert sum(path.suffix == ".dcm" for path in SAMPLE_FILES) == 13


def test_bytes_and_file_decode_alike() -> None:
    path = SAMPLE_IMAGES / "histo_01.png"
    from_file = load_image(path)
    from_bytes = decode_image_bytes(path.read_bytes())
    assert from_bytes.format == "png"
    assert np.array_equal(np.asarray(from_file.image), np.asarray(from_bytes.image))


def test_sniff_by_content() -> None:
    rgb = Image.new("RGB", (8, 8), (10, 20, 30))
    for format_, pil_format in [
        ("png", "PNG"),
        ("jpeg", "JPEG"),
        ("tiff", "TIFF"),
        ("bmp", "BMP"),
        ("webp", "WEBP"),
        ("gif", "GIF"),
    ]:
        assert sniff_format(encode(rgb, pil_format)[:132]) == format_
    assert sniff_format((SAMPLE_IMAGES / "dcm_mr_small.dcm").read_bytes()[:132]) == "dicom"
    assert sniff_format(b"") is None
    assert sniff_format(b"hello, world\n" * 20) is None
    assert sniff_format(b"BM this is a text file that happens to start with BM") is None


def test_dicom_preamble_that_looks_like_tiff_is_dicom() -> None:
    data = (SAMPLE_IMAGES / "dcm_ct_small.dcm").read_bytes()
    assert data[:4] == b"II*\x00"  # a dual-personality preamble
    assert sniff_format(data[:132]) == "dicom"


def test_dicom_without_extension_is_found(tmp_path: Path) -> None:
    target = tmp_path / "IM000001"
    target.write_bytes((SAMPLE_IMAGES / "dcm_ct_small.dcm").read_bytes())
    assert sniff_file(target) == "dicom"
    decoded = load_image(target)
    assert decoded.format == "dicom"
    assert (decoded.width, decoded.height) == (128, 128)
    assert decoded.metadata["modality"] == "CT"


def test_jpeg_named_png_is_decoded_as_jpeg(tmp_path: Path) -> None:
    target = tmp_path / "really_a_jpeg.png"
    target.write_bytes((SAMPLE_IMAGES / "cxr_09.jpg").read_bytes())
    assert load_image(target).format == "jpeg"


def test_text_file_named_png_is_not_an_image(tmp_path: Path) -> None:
    target = tmp_path / "x.png"
    target.write_text("this is not a picture\n")
    with pytest.raises(UnreadableImageError) as caught:
        load_image(target)
    assert caught.value.reason == "not_image"
    assert reason_of(b"") == "not_image"


def test_missing_file_is_a_typed_error(tmp_path: Path) -> None:
    with pytest.raises(UnreadableImageError):
        load_image(tmp_path / "gone.png")


@pytest.mark.parametrize("name", ["cxr_01.jpg", "fundus_01.jpg", "histo_01.png", "fundus_02.png"])
def test_truncated_raster_files(name: str, tmp_path: Path) -> None:
    data = (SAMPLE_IMAGES / name).read_bytes()
    cut = data[: len(data) // 2]
    assert reason_of(cut) == "truncated"
    target = tmp_path / name
    target.write_bytes(cut)
    with pytest.raises(UnreadableImageError, match="truncated") as caught:
        load_image(target)
    assert caught.value.reason == "truncated"
    assert not ImageFile.LOAD_TRUNCATED_IMAGES


def png_chunk(kind: bytes, body: bytes) -> bytes:
    return struct.pack(">I", len(body)) + kind + body + struct.pack(">I", zlib.crc32(kind + body))


def test_corrupt_png_data() -> None:
    png = encode(Image.new("RGB", (64, 64), (200, 10, 10)), "PNG")
    assert reason_of(png[:8] + b"\x00" * 200) == "corrupt"  # no IHDR
    header = png[:33]  # signature and IHDR
    bad_pixels = header + png_chunk(b"IDAT", b"garbage!" * 40) + png_chunk(b"IEND", b"")
    assert reason_of(bad_pixels) == "corrupt"


def png_claiming_size(width: int, height: int) -> bytes:
    """A small real PNG whose IHDR (with a recomputed CRC) claims another size."""
    png = bytearray(encode(Image.new("L", (4, 4), 7), "PNG"))
    assert png[12:16] == b"IHDR"
    png[16:24] = struct.pack(">II", width, height)
    png[29:33] = struct.pack(">I", zlib.crc32(bytes(png[12:29])))
    return bytes(png)


def test_decompression_bomb_is_refused_before_decoding() -> None:
    assert reason_of(png_claiming_size(100_000, 100_000)) == "too_large"
    # above Pillow's own warning threshold but below ours: refused by max_pixels, no warning
    assert reason_of(png_claiming_size(10_000, 10_000), max_pixels=50_000_000) == "too_large"
    real = (SAMPLE_IMAGES / "cxr_01.jpg").read_bytes()
    assert reason_of(real, max_pixels=1000) == "too_large"


def test_sixteen_bit_png_is_stretched_over_its_range() -> None:
    ramp = np.linspace(1000, 3000, 64 * 32).reshape(32, 64).astype(np.uint16)
    source = Image.fromarray(ramp)
    assert source.mode.startswith("I;16")
    decoded = decode_image_bytes(encode(source, "PNG"))
    assert decoded.format == "png"
    grey = np.asarray(decoded.image)[..., 0].astype(int)
    assert grey.min() == 0 and grey.max() == 255
    expected = np.rint((ramp.astype(float) - 1000) / 2000 * 255)
    assert np.abs(grey - expected).max() <= 1
    assert (np.asarray(decoded.image)[..., 0] == np.asarray(decoded.image)[..., 2]).all()


def test_float_tiff_is_stretched_over_its_range() -> None:
    rng = np.random.default_rng(0)
    values = rng.normal(0.0, 3.0, size=(24, 40)).astype(np.float32)
    source = Image.fromarray(values)
    assert source.mode == "F"
    decoded = decode_image_bytes(encode(source, "TIFF"))
    assert decoded.format == "tiff"
    grey = np.asarray(decoded.image)[..., 0].astype(int)
    assert grey.min() == 0 and grey.max() == 255
    assert grey[np.unravel_index(values.argmax(), values.shape)] == 255
    expected = np.rint((values - values.min()) / (values.max() - values.min()) * 255)
    assert np.abs(grey - expected).max() <= 1


def test_thirty_two_bit_integer_tiff() -> None:
    values = np.arange(-50_000, 50_000, 100, dtype=np.int32).reshape(20, 50)
    decoded = decode_image_bytes(encode(Image.fromarray(values), "TIFF"))
    grey = np.asarray(decoded.image)[..., 0]
    assert grey[0, 0] == 0 and grey[-1, -1] == 255


def test_cmyk_jpeg_becomes_rgb() -> None:
    red_in_cmyk = Image.new("CMYK", (32, 32), (0, 255, 255, 0))
    decoded = decode_image_bytes(encode(red_in_cmyk, "JPEG", quality=95))
    assert decoded.image.mode == "RGB"
    red, green, blue = decoded.image.getpixel((16, 16))  # type: ignore[misc]
    assert red > 230 and green < 25 and blue < 25


def test_palette_png_with_transparency_is_flattened_onto_black() -> None:
    palette_image = Image.new("P", (20, 10), 0)
    palette_image.putpalette([255, 255, 255, 200, 30, 30] + [0, 0, 0] * 254)
    palette_image.paste(1, (10, 0, 20, 10))
    data = encode(palette_image, "PNG", transparency=0)  # white index 0 is transparent
    decoded = decode_image_bytes(data)
    assert decoded.image.getpixel((2, 5)) == (0, 0, 0)
    assert decoded.image.getpixel((15, 5)) == (200, 30, 30)


@pytest.mark.parametrize("format_", ["PNG", "WEBP", "TIFF"])
def test_alpha_is_flattened_onto_black(format_: str) -> None:
    rgba = Image.new("RGBA", (16, 16), (250, 250, 250, 0))
    rgba.paste((10, 200, 10, 255), (8, 0, 16, 16))
    options = {"lossless": True} if format_ == "WEBP" else {}
    decoded = decode_image_bytes(encode(rgba, format_, **options))
    assert decoded.image.getpixel((2, 2)) == (0, 0, 0)
    assert decoded.image.getpixel((12, 2)) == (10, 200, 10)


def test_grey_with_alpha_and_bilevel_images() -> None:
    grey_alpha = Image.new("LA", (8, 8), (255, 0))
    assert decode_image_bytes(encode(grey_alpha, "PNG")).image.getpixel((1, 1)) == (0, 0, 0)
    bilevel = Image.new("1", (8, 8), 1)
    assert decode_image_bytes(encode(bilevel, "PNG")).image.getpixel((1, 1)) == (255, 255, 255)
    assert decode_image_bytes(encode(bilevel, "BMP")).format == "bmp"


def exif_rotated_jpeg(width: int, height: int, orientation: int) -> bytes:
    """Left half red, right half blue, stored with an EXIF Orientation tag."""
    stored = Image.new("RGB", (width, height), (255, 0, 0))
    stored.paste((0, 0, 255), (width // 2, 0, width, height))
    exif = Image.Exif()
    exif[0x0112] = orientation
    return encode(stored, "JPEG", quality=95, exif=exif.tobytes())


def test_exif_orientation_is_applied() -> None:
    # orientation 6: the stored image must be turned 90 degrees clockwise to be upright
    decoded = decode_image_bytes(exif_rotated_jpeg(80, 40, 6))
    assert (decoded.width, decoded.height) == (40, 80)
    assert decoded.image.size == (40, 80)
    top = decoded.image.getpixel((20, 10))
    bottom = decoded.image.getpixel((20, 70))
    assert top[0] > 200 and top[2] < 50  # type: ignore[index]
    assert bottom[2] > 200 and bottom[0] < 50  # type: ignore[index]


def test_jpeg_draft_mode_reduces_but_reports_the_full_size() -> None:
    rng = np.random.default_rng(0)
    noise = rng.integers(0, 256, size=(800, 1024, 3), dtype=np.uint8)
    data = encode(Image.fromarray(noise), "JPEG", quality=80)
    full = decode_image_bytes(data)
    assert full.image.size == (1024, 800)
    reduced = decode_image_bytes(data, draft_size=200)
    assert (reduced.width, reduced.height) == (1024, 800)
    assert reduced.image.size == (256, 200)  # reduced by 4, the shortest side stays >= 200
    assert reduced.image.mode == "RGB"
    assert decode_image_bytes(data, draft_size=300).image.size == (512, 400)
    assert decode_image_bytes(data, draft_size=2000).image.size == (1024, 800)


def test_draft_mode_with_exif_rotation_and_on_png() -> None:
    reduced = decode_image_bytes(exif_rotated_jpeg(800, 400, 6), draft_size=100)
    assert (reduced.width, reduced.height) == (400, 800)
    assert reduced.image.size == (100, 200)
    # other formats are box-reduced by an integer factor after decoding
    png = encode(Image.new("RGB", (800, 400)), "PNG")
    decoded = decode_image_bytes(png, draft_size=100)
    assert decoded.image.size == (200, 100)
    assert (decoded.width, decoded.height) == (800, 400)
    assert decode_image_bytes(png, draft_size=300).image.size == (800, 400)


def test_multi_frame_gif_and_tiff_give_the_first_frame() -> None:
    frames = [Image.new("RGB", (16, 16), colour) for colour in [(255, 0, 0), (0, 0, 255)]]
    for format_ in ("GIF", "TIFF"):
        buffer = io.BytesIO()
        frames[0].save(buffer, format_, save_all=True, append_images=frames[1:])
        decoded = decode_image_bytes(buffer.getvalue())
        assert decoded.format == format_.lower()
        red, green, blue = decoded.image.getpixel((8, 8))  # type: ignore[misc]
        assert red > 240 and blue < 15


def test_ycbcr_and_grey_jpegs() -> None:
    grey = Image.fromarray(np.tile(np.arange(0, 256, 4, dtype=np.uint8), (16, 1)))
    decoded = decode_image_bytes(encode(grey, "JPEG", quality=95))
    pixels = np.asarray(decoded.image)
    assert pixels.shape == (16, 64, 3)
    assert (pixels[..., 0] == pixels[..., 1]).all()

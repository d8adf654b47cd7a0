"""Query images as the API takes them: bytes, from a path, bytes or a PIL image."""

from __future__ import annotations

import base64
import io
import os
from typing import Any, Union

#: what the client accepts as a query image: a file path, its bytes, or a ``PIL.Image.Image``
ImageInput = Union[str, "os.PathLike[str]", bytes, bytearray, memoryview, Any]


def image_bytes(image: ImageInput) -> bytes:
    """The encoded bytes of ``image``: a file's content, the bytes themselves, or a PIL image
    saved as PNG (PIL is only needed by the caller who hands one over)."""
    if isinstance(image, bytes | bytearray | memoryview):
        return bytes(image)
    if isinstance(image, str | os.PathLike):
        with open(image, "rb") as handle:
            return handle.read()
    if hasattr(image, "save") and hasattr(image, "mode"):
        buffer = io.BytesIO()
        image.save(buffer, format="PNG")
        return buffer.getvalue()
    raise TypeError(f"an image is a path, bytes or a PIL image, not {type(image).__name__}")


def image_base64(image: ImageInput) -> str:
    """``image`` as the base64 text a JSON body carries."""
    return base64.b64encode(image_bytes(image)).decode("ascii")

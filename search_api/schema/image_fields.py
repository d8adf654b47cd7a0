"""Request fields that carry an image: base64 in a JSON body, or a multipart file part.

Both are bounded by the upload limit of the settings (413 beyond it); decoding the bytes into
an image is left to the route (422 when they are not one).
"""

from __future__ import annotations

import base64
import binascii
import re
from dataclasses import dataclass
from typing import Any

from indexer.errors import PayloadTooLargeError
from search_api.schema.fields import Field, Limits, Schema, invalid

_DATA_URL = re.compile(r"^data:[^,]*?(;base64)?,", re.IGNORECASE)
#: a base64 character (standard or URL-safe alphabet) and the line breaks and spaces after it
_CHAR = r"[A-Za-z0-9+/_-][ \t\r\n]*"
#: base64 text: whole groups of four characters, the last one of two or three characters with
#: or without its padding; spaces and line breaks anywhere
_PAYLOAD = (
    rf"[ \t\r\n]*(?:{_CHAR}{_CHAR}{_CHAR}{_CHAR})*"
    rf"(?:{_CHAR}{_CHAR}(?:{_CHAR}{_CHAR}|{_CHAR}(?:=[ \t\r\n]*)?|(?:=[ \t\r\n]*){{0,2}}))"
)
#: what the ``image`` field accepts, in the document and here alike (written without flags, as
#: JSON Schema has none): base64 text after an optional ``data:...;base64,`` prefix
BASE64_PATTERN = rf"^(?:[dD][aA][tT][aA]:[^,]*;[bB][aA][sS][eE]64,)?{_PAYLOAD}$"
_BASE64_PAYLOAD = re.compile(_PAYLOAD)
_WHITESPACE = re.compile(r"[ \t\r\n]")


@dataclass(frozen=True)
class Base64Image(Field):
    """Image bytes sent as base64 or a base64 ``data:`` URL; 413 beyond the upload limit."""

    name: str

    def schema(self, limits: Limits) -> Schema:
        description = (
            f"Base64 image, or a data: URL, of at most {limits.max_upload_bytes} bytes decoded"
        )
        return {
            "type": "string",
            "minLength": 1,
            "pattern": BASE64_PATTERN,
            "contentEncoding": "base64",
            "description": description,
        }

    def parse(self, value: Any, limits: Limits) -> bytes:
        return decode_base64_image(value, max_bytes=limits.max_upload_bytes)


@dataclass(frozen=True)
class Upload(Field):
    """A multipart file part (the route reads it from ``request.files``)."""

    name: str
    description: str = ""

    def schema(self, limits: Limits) -> Schema:
        schema = {"type": "string", "contentMediaType": "application/octet-stream"}
        description = f"{self.description}, at most {limits.max_upload_bytes} bytes"
        return {**schema, "minLength": 1, "description": description}

    def parse(self, value: Any, limits: Limits) -> bytes:
        if not hasattr(value, "read"):
            raise invalid(f"a multipart {self.name!r} part with the image is required")
        data: bytes = value.read()
        return data


def decode_base64_image(value: Any, *, max_bytes: int) -> bytes:
    """The bytes of a base64 image, optionally a ``data:`` URL; 413 if over ``max_bytes``."""
    if not isinstance(value, str):
        raise invalid("image must be a base64 string or a data: URL")
    match = _DATA_URL.match(value)
    if match:
        if not match.group(1):
            raise invalid("image data: URL must be base64-encoded")
        value = value[match.end() :]
    text = _WHITESPACE.sub("", value).replace("-", "+").replace("_", "/")
    if not text:
        raise invalid("image is empty")
    if len(text) // 4 * 3 > max_bytes + 3:
        raise PayloadTooLargeError(f"image is larger than {max_bytes} bytes")
    if not _BASE64_PAYLOAD.fullmatch(value):
        raise invalid("image is not valid base64")
    text += "=" * (-len(text) % 4)
    try:
        data = base64.b64decode(text, validate=True)
    except (binascii.Error, ValueError):
        raise invalid("image is not valid base64") from None
    if len(data) > max_bytes:
        raise PayloadTooLargeError(f"image is larger than {max_bytes} bytes")
    return data

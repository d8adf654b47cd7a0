"""The requests of the clip-retrieval compatible routes, declared as field sets.

clip-retrieval's back end (``clip_back``) answers ``POST /knn-service`` and ``POST /metadata``;
its ``ClipClient`` sends every key of the first, most of them ``null``, without a Content-Type.
The fields below take the same names and JSON types, so that client works unchanged; the fields
MedSearch cannot honour (a safety model, a violence detector, aesthetic re-weighting, multilingual
CLIP) are accepted whatever they hold and ignored. Unknown keys are ignored too, as ``clip_back``
ignores them. Only image vectors exist in a MedSearch index: ``modality`` is ``image``.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from search_api.schema.fields import (
    Field,
    ImageId,
    IndexName,
    Integer,
    Limits,
    Schema,
    Text,
    Vector,
    invalid,
    is_int,
)
from search_api.schema.image_fields import Base64Image
from search_api.schema.params import (
    MAX_INDEX_NAME_CHARS,
    MAX_TEXT_CHARS,
    MAX_VECTOR_LEN,
    FieldSet,
)

#: results a clip-retrieval query gets when it does not say (ClipClient's default)
CLIP_DEFAULT_IMAGES = 40
#: longest image_url accepted
MAX_URL_CHARS = 2_048
#: what the fields nobody can honour here were for, in clip_back
IGNORED = {
    "use_safety_model": "clip_back's NSFW filter",
    "use_violence_detector": "clip_back's violence filter",
    "aesthetic_score": "clip_back's aesthetic re-weighting",
    "aesthetic_weight": "clip_back's aesthetic re-weighting",
    "use_mclip": "multilingual CLIP text queries",
}


@dataclass(frozen=True)
class Flag(Field):
    """A JSON boolean."""

    name: str
    default: bool = False
    description: str = ""

    def schema(self, limits: Limits) -> Schema:
        return self.documented({"type": "boolean"}, limits)

    def parse(self, value: Any, limits: Limits) -> bool:
        if not isinstance(value, bool):
            raise invalid(f"{self.name} must be true or false")
        return value


@dataclass(frozen=True)
class Ignored(Field):
    """A field accepted with any value and not used."""

    name: str
    description: str = ""

    def schema(self, limits: Limits) -> Schema:
        return {"description": self.description}

    def parse(self, value: Any, limits: Limits) -> None:
        return None


@dataclass(frozen=True)
class ImageModality(Field):
    """clip-retrieval's ``modality``: which index to search. Only ``image`` exists here."""

    name: str
    default: str = "image"
    description: str = (
        'Which vectors to search: "image" (clip_back\'s "text" modality searches embedded '
        "captions, which a MedSearch index does not hold)"
    )

    def schema(self, limits: Limits) -> Schema:
        return self.documented({"type": "string", "enum": ["image"]}, limits)

    def parse(self, value: Any, limits: Limits) -> str:
        if value != "image":
            raise invalid(
                'modality must be "image": a MedSearch index holds image vectors only, '
                "no embedded captions to search"
            )
        return "image"


@dataclass(frozen=True)
class HttpUrl(Field):
    """An ``http://`` or ``https://`` URL of at most ``max_chars`` characters."""

    name: str
    max_chars: int
    description: str = ""

    def schema(self, limits: Limits) -> Schema:
        schema = {
            "type": "string",
            "maxLength": self.max_chars,
            "pattern": "^[Hh][Tt][Tt][Pp][Ss]?://[^/]",
        }
        return self.documented(schema, limits)

    def parse(self, value: Any, limits: Limits) -> str:
        if not isinstance(value, str) or len(value) > self.max_chars:
            raise invalid(f"{self.name} must be a URL of at most {self.max_chars} characters")
        scheme, _, rest = value.partition("://")
        if scheme.lower() not in ("http", "https") or not rest or rest.startswith("/"):
            raise invalid(f"{self.name} must be an http:// or https:// URL")
        return value


@dataclass(frozen=True)
class IdList(Field):
    """0 to ``max_k`` indexed image ids."""

    name: str
    description: str = ""

    def schema(self, limits: Limits) -> Schema:
        item = ImageId("id").schema(limits)
        schema = {"type": "array", "items": item, "maxItems": limits.max_k}
        return self.documented(schema, limits)

    def parse(self, value: Any, limits: Limits) -> list[int]:
        if not isinstance(value, list) or len(value) > limits.max_k:
            raise invalid(f"{self.name} must be a list of at most {limits.max_k} image ids")
        if not all(is_int(item) and item >= 0 for item in value):
            raise invalid(f"{self.name} must hold non-negative integers")
        return [int(item) for item in value]


def _max_k(limits: Limits) -> int:
    return limits.max_k


INDICE_NAME = IndexName(
    "indice_name",
    MAX_INDEX_NAME_CHARS,
    description="Which served index to search (GET /api/indices-list); the first by default",
)
CLIP_QUERY_KINDS = ("text", "image", "image_url", "embedding_input")
KNN_BODY = FieldSet(
    (
        INDICE_NAME,
        ImageModality("modality"),
        Integer(
            "num_images",
            1,
            _max_k,
            default=CLIP_DEFAULT_IMAGES,
            description="Results that carry their metadata",
        ),
        Integer(
            "num_result_ids",
            1,
            _max_k,
            description="Neighbours looked up (num_images by default); those past num_images "
            "carry only id and similarity, as in clip_back",
        ),
        Flag(
            "deduplicate",
            description="Drop results whose vectors are near copies (cosine > 0.94) of a "
            "better-ranked result, as clip_back does",
        ),
        Text("text", MAX_TEXT_CHARS, description="What to look for, in words"),
        Base64Image("image"),
        HttpUrl(
            "image_url",
            MAX_URL_CHARS,
            description="An image the service fetches: refused (403) unless "
            "MEDSEARCH_FETCH_IMAGE_URLS is set",
        ),
        Vector("embedding_input", MAX_VECTOR_LEN, description="A query embedding"),
        *(Ignored(name, f"Accepted and ignored ({what})") for name, what in IGNORED.items()),
    ),
    exactly_one=CLIP_QUERY_KINDS,
    closed=False,
    nullable=True,
)
METADATA_BODY = FieldSet(
    (INDICE_NAME, IdList("ids", description="Image ids of knn-service results")),
    required=("ids",),
    closed=False,
    nullable=True,
)


@dataclass(frozen=True)
class KnnQuery:
    """A parsed ``POST /api/knn-service`` body: exactly one query kind is set."""

    index: str | None
    num_images: int
    num_result_ids: int
    deduplicate: bool
    text: str | None = None
    image: bytes | None = None
    image_url: str | None = None
    vector: list[float] | None = None


def parse_knn_body(body: Mapping[str, Any], limits: Limits) -> KnnQuery:
    """Validate a ``POST /api/knn-service`` body."""
    values = KNN_BODY.parse(body, limits)
    num_images = values["num_images"]
    return KnnQuery(
        index=values["indice_name"],
        num_images=num_images,
        num_result_ids=values["num_result_ids"] or num_images,
        deduplicate=values["deduplicate"],
        text=values["text"],
        image=values["image"],
        image_url=values["image_url"],
        vector=values["embedding_input"],
    )


def parse_metadata_body(body: Mapping[str, Any], limits: Limits) -> tuple[list[int], str | None]:
    """The ids and the index of a ``POST /api/metadata`` body."""
    values = METADATA_BODY.parse(body, limits)
    return values["ids"], values["indice_name"]

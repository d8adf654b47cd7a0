"""Which case a DICOM instance belongs to, without storing an identifier.

An instance's series and study are stored as keyed hashes of their UIDs (``series_key``,
``study_key``): HMAC-SHA256 with the index's own random group key
(:mod:`indexer.storage.group_key`), cut to :data:`KEY_HEX_CHARS` hex characters, the way
de-identification profiles replace UIDs with new consistent ones. Its place in the series
(``instance_number``, ``slice_position``) is stored as is: it identifies nobody.

A ``patient_key`` is stored only with a pseudonym secret the user keeps (``pseudonym_key``): a
PatientID is short and guessable, so a hash keyed by a key stored beside the index could be
reversed by trying every likely ID. Without the secret there is no patient key.

Nothing here reads a file: the caller gives the keys (:class:`CaseKeys`).
"""

from __future__ import annotations

import hashlib
import hmac
from dataclasses import dataclass, field

from pydicom.dataset import Dataset

from ..records import MetadataValue
from .geometry import SlicePlace

#: length of a stored key: 64 bits of the HMAC, far from colliding within one archive
KEY_HEX_CHARS = 16
#: an instance's place in its series, stored for every DICOM instance that has it
PLACE_FIELDS = ("instance_number", "slice_position")
#: the group keys, stored only when the index's keys are given (``patient_key``: with a secret)
KEY_FIELDS = ("series_key", "study_key", "patient_key")


def keyed_hash(value: str, key: bytes) -> str:
    """The first :data:`KEY_HEX_CHARS` hex characters of HMAC-SHA256(``key``, ``value``)."""
    return hmac.new(key, value.encode("utf-8"), hashlib.sha256).hexdigest()[:KEY_HEX_CHARS]


def place_fields(place: SlicePlace) -> dict[str, MetadataValue]:
    """``instance_number`` and ``slice_position`` (mm along the slice normal), where known."""
    fields: dict[str, MetadataValue] = {}
    if place.instance_number is not None:
        fields["instance_number"] = place.instance_number
    if place.position is not None:
        fields["slice_position"] = place.position
    return fields


@dataclass(frozen=True)
class CaseKeys:
    """The secrets that key an index's group fields (never shown in a repr)."""

    #: the index's group key (series and study keys)
    group_key: bytes = field(repr=False)
    #: the user's pseudonym secret (patient keys); None: no patient key
    pseudonym_key: bytes | None = field(default=None, repr=False)

    @classmethod
    def of(cls, group_key: bytes, pseudonym_key: str | None) -> CaseKeys:
        """Keys for an index whose settings give ``pseudonym_key`` (or not)."""
        return cls(group_key, pseudonym_key.encode("utf-8") if pseudonym_key else None)

    def fields(self, place: SlicePlace, dataset: Dataset) -> dict[str, MetadataValue]:
        """``series_key``, ``study_key`` and, with a pseudonym secret, ``patient_key`` of the
        instance ``dataset`` whose :class:`SlicePlace` is ``place`` (each where its UID or ID
        is present)."""
        fields: dict[str, MetadataValue] = {}
        if place.series_uid:
            fields["series_key"] = keyed_hash(place.series_uid, self.group_key)
        if place.study_uid:
            fields["study_key"] = keyed_hash(place.study_uid, self.group_key)
        patient_id = str(dataset.get("PatientID") or "").strip().strip("\x00").strip()
        if self.pseudonym_key is not None and patient_id:
            fields["patient_key"] = keyed_hash(patient_id, self.pseudonym_key)
        return fields

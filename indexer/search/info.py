"""What a retriever says about the index it serves: the published index's facts plus how its
encoder runs here (``GET /api/info``, ``/api/indexes``, the benchmarks)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from ..storage.info import EncoderRecord, IndexInfo
from .levels import levels_of


@dataclass(frozen=True)
class RetrieverInfo:
    """The served version of an index and the encoder that answers its queries."""

    #: images in the published index
    count: int
    #: length of the index's vectors (a query vector must have it)
    dim: int
    #: the encoder the index was built with (its vectors' model)
    encoder: EncoderRecord
    #: where and at what precision that encoder runs in this process
    device: str
    precision: str
    #: files that could not be indexed
    failed: int = 0
    #: kind of the published ANN index and the similarity it ranks by
    index_type: str = "flat"
    metric: str = "inner_product"
    #: grows with every publication
    generation: int = 0
    #: when the index was created and last published (UTC, ISO 8601)
    created_at: str | None = None
    updated_at: str | None = None
    #: versions of Python and the libraries that last published the index
    versions: Mapping[str, str] = field(default_factory=dict)
    #: fields whose groups have vectors (``level=`` search, :mod:`indexer.search.levels`)
    group_fields: tuple[str, ...] = ()
    #: what runs the encoder's towers here, and for int8 how close it is to fp32 PyTorch
    runtime: str = "torch"
    fidelity: Mapping[str, str] | None = None

    @property
    def levels(self) -> tuple[str, ...]:
        """The levels a search of this index may ask for."""
        return levels_of(self.group_fields)

    @classmethod
    def of(
        cls,
        info: IndexInfo,
        *,
        device: str,
        precision: str,
        runtime: str = "torch",
        fidelity: Mapping[str, str] | None = None,
    ) -> RetrieverInfo:
        """The facts of a published index served by an encoder on ``device``."""
        return cls(
            count=info.count,
            dim=info.dim,
            encoder=info.encoder,
            device=device,
            precision=precision,
            failed=info.failed,
            index_type=info.index_type,
            metric=info.metric,
            generation=info.generation,
            created_at=info.created_at,
            updated_at=info.updated_at,
            versions=dict(info.versions),
            group_fields=info.group_fields or (),
            runtime=runtime,
            fidelity=fidelity,
        )

    def to_json(self) -> dict[str, Any]:
        """The JSON object of ``GET /api/info`` (before the service adds its own fields)."""
        return {
            "count": self.count,
            "failed": self.failed,
            "dim": self.dim,
            "index_type": self.index_type,
            "metric": self.metric,
            "encoder": {
                **self.encoder.to_json(),
                "device": self.device,
                "precision": self.precision,
                "runtime": self.runtime,
                "fidelity": None if self.fidelity is None else dict(self.fidelity),
            },
            "generation": self.generation,
            "created_at": self.created_at,
            "updated_at": self.updated_at,
            "versions": dict(self.versions),
            "levels": list(self.levels),
        }

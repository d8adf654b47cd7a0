"""Typed exceptions raised by the MedSearch library.

Library code raises these; only the CLI and the HTTP error handler turn them into messages.
Each carries an HTTP-like ``status`` and a stable ``code`` so every front end reports them alike.
"""

from __future__ import annotations


class MedSearchError(Exception):
    """Base class of every error MedSearch raises on purpose."""

    status = 500
    code = "internal_error"

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


class SettingsError(MedSearchError):
    """A setting (``MEDSEARCH_*`` variable or option) has a value it does not accept."""

    status = 500
    code = "invalid_setting"


class FrontEndMissingError(MedSearchError):
    """A first-party front end (a command, the search page) cannot be imported."""

    code = "front_end_missing"


class InvalidRequestError(MedSearchError):
    """A query or parameter is malformed (bad k, two query kinds, unknown filter field ...)."""

    status = 400
    code = "invalid_request"


class FilterValueError(InvalidRequestError):
    """A filter value cannot match its field's values (text for a field of numbers ...)."""


class NotFoundError(MedSearchError):
    """An indexed id (or another named thing) does not exist."""

    status = 404
    code = "not_found"


class PayloadTooLargeError(MedSearchError):
    """An upload is larger than the configured limit."""

    status = 413
    code = "payload_too_large"


class UnreadableImageError(MedSearchError):
    """A file or upload cannot be decoded as an image (truncated, not an image, no pixels, bomb)."""

    status = 422
    code = "unreadable_image"

    def __init__(self, message: str, reason: str = "unreadable") -> None:
        super().__init__(message)
        #: short machine-readable reason: not_image, truncated, no_pixel_data, too_large, ...
        self.reason = reason


class ModelUnavailableError(MedSearchError):
    """Model weights or files cannot be found or loaded."""

    status = 503
    code = "model_unavailable"


class UntrustedModelCodeError(ModelUnavailableError):
    """Loading the model would run Python code from its folder, which the user did not allow."""


class UnfaithfulRuntimeError(ModelUnavailableError):
    """A reduced-precision model (int8) gives embeddings too far from the fp32 model's."""

    code = "unfaithful_runtime"


class EncoderMismatchError(MedSearchError):
    """An index was built with another encoder than the one offered."""

    status = 409
    code = "encoder_mismatch"


class IndexNotFoundError(MedSearchError):
    """The index folder does not exist or holds no index."""

    status = 503
    code = "index_not_found"


class IndexCorruptError(MedSearchError):
    """The index folder exists but its files are broken or inconsistent."""

    status = 503
    code = "index_corrupt"


class IndexDamagedError(IndexCorruptError):
    """Rows of the served version's vector file no longer match the digests published for them:
    the version is refused until a new one is published."""

    code = "index_damaged"


class IndexBusyError(MedSearchError):
    """Another process is writing this index."""

    status = 409
    code = "index_busy"


class SourceUnavailableError(MedSearchError):
    """A PACS (DICOMweb service) cannot be reached or refuses a request."""

    status = 503
    code = "source_unavailable"


class SourceOptionError(InvalidRequestError):
    """A corpus was given an option its kind of source does not take (a selection for a folder)."""


class MetadataFileError(MedSearchError):
    """A metadata sidecar (CSV/JSONL) cannot be read."""

    status = 400
    code = "invalid_metadata"


class EvaluationInputError(MedSearchError):
    """What ``medsearch eval`` was given cannot be evaluated (a missing field, one class ...)."""

    status = 400
    code = "invalid_evaluation_input"


class IndexFormatError(MedSearchError):
    """An index folder has a layout this MedSearch cannot read (too new, or too old to migrate)."""

    status = 503
    code = "index_format_unsupported"


class DiskFullError(MedSearchError):
    """A write failed for lack of space: disk full, file-size limit or quota reached."""

    status = 507
    code = "disk_full"


class IndexMemoryError(SettingsError):
    """No index type holds the corpus within the memory the index may take."""

    code = "index_memory"


class EngineUnavailableError(MedSearchError):
    """The indexing engine asked for cannot run: Ray is missing, or its cluster is unreachable."""

    status = 503
    code = "engine_unavailable"


class OutputExistsError(MedSearchError):
    """A command would write where a file or folder already is (it never overwrites one)."""

    status = 409
    code = "output_exists"

"""Where the benchmarks find the sample images they start from.

A folder given by the user, or else ``data/sample/images`` under the current directory (the
layout of a source checkout): resolved when a benchmark runs, never relative to this package,
which an installed copy keeps far from any checkout.
"""

from __future__ import annotations

from pathlib import Path

from indexer.errors import MedSearchError

#: the sample images of a source checkout, relative to the directory a benchmark runs in
DEFAULT_SAMPLE_IMAGES = Path("data") / "sample" / "images"


class SampleImagesNotFoundError(MedSearchError):
    """The folder of sample images a benchmark starts from does not exist."""

    status = 404
    code = "sample_images_not_found"


def sample_images(folder: Path | None, *, option: str) -> Path:
    """``folder``, or :data:`DEFAULT_SAMPLE_IMAGES` under the current directory when None.

    ``option`` names the command-line option that gives the folder, for the error raised when
    the folder does not exist.
    """
    if folder is not None:
        path = Path(folder)
        if not path.is_dir():
            raise SampleImagesNotFoundError(f"sample image folder {path} does not exist")
        return path
    path = Path.cwd() / DEFAULT_SAMPLE_IMAGES
    if not path.is_dir():
        raise SampleImagesNotFoundError(
            f"no sample images at {DEFAULT_SAMPLE_IMAGES} under the current directory "
            f"({Path.cwd()}): run from the root of a MedSearch checkout, or pass "
            f"{option} FOLDER with the images to use"
        )
    return path

"""A real PACS for the tests: Orthanc with its DICOMweb plugin (Debian ``orthanc``,
``orthanc-dicomweb``), on a free loopback port, with its own configuration and storage.

Any Orthanc the system runs as a service is left alone: this one has its own port, folders
and configuration, and listens on loopback only.
"""

from __future__ import annotations

import json
import shutil
import socket
import subprocess
import time
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import pytest
import requests
from pydicom.data import get_testdata_file

from tests.support.helpers import SAMPLE_IMAGES

ORTHANC = shutil.which("Orthanc") or "/usr/sbin/Orthanc"
DICOMWEB_PLUGIN = Path("/usr/share/orthanc/plugins/libOrthancDicomWeb.so")
USER, PASSWORD = "medsearch", "orthanc-test-password"

#: pydicom and pydicom-data files of several encodings and modalities, each its own instance
#: (one without pixel data)
PYDICOM_FILES = (
    "SC_rgb_rle.dcm",
    "SC_rgb_jpeg_dcmtk.dcm",
    "JPGExtended.dcm",
    "JPGLosslessP14SV1_1s_1f_8b.dcm",
    "emri_small_jpeg_ls_lossless.dcm",
    "US1_J2KI.dcm",
    "RG1_J2KR.dcm",
    "image_dfl.dcm",
    "rtplan.dcm",
)


def _pydicom_files() -> list[Path]:
    found = (get_testdata_file(name, download=False) for name in PYDICOM_FILES)
    return [Path(str(path)) for path in found if path is not None]


#: what the test PACS holds
PACS_FILES = sorted(SAMPLE_IMAGES.glob("*.dcm")) + _pydicom_files()


def missing() -> str | None:
    """Why a test Orthanc cannot run here, or None."""
    if not Path(ORTHANC).is_file():
        return "Orthanc is not installed (apt-get install orthanc orthanc-dicomweb)"
    if not DICOMWEB_PLUGIN.is_file():
        return "Orthanc's DICOMweb plugin is not installed (apt-get install orthanc-dicomweb)"
    return None


def require_orthanc() -> None:
    """Skip the calling test when a test Orthanc cannot run here."""
    reason = missing()
    if reason:
        pytest.skip(reason)


@dataclass
class Orthanc:
    """A running test Orthanc."""

    url: str  # REST root

    @property
    def dicomweb(self) -> str:
        return f"{self.url}/dicom-web"

    def use_credentials(self, patch: pytest.MonkeyPatch) -> None:
        """Give ``medsearch`` this PACS's user and password, the way a site would."""
        patch.setenv("MEDSEARCH_DICOMWEB_USER", USER)
        patch.setenv("MEDSEARCH_DICOMWEB_PASSWORD", PASSWORD)

    def upload(self, files: Iterable[Path]) -> int:
        """POST each DICOM file to /instances; return how many it stored."""
        stored = 0
        for path in files:
            response = requests.post(
                f"{self.url}/instances", data=path.read_bytes(), auth=(USER, PASSWORD), timeout=60
            )
            response.raise_for_status()
            stored += 1
        return stored

    def delete_instance(self, sop_uid: str) -> None:
        found = requests.post(
            f"{self.url}/tools/lookup", data=sop_uid, auth=(USER, PASSWORD), timeout=30
        ).json()
        for item in found:
            requests.delete(f"{self.url}{item['Path']}", auth=(USER, PASSWORD), timeout=30)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


@contextmanager
def running_orthanc(folder: Path) -> Iterator[Orthanc]:
    """Start Orthanc with storage under ``folder``; stop it afterwards."""
    port = free_port()
    config = {
        "Name": "medsearch-test",
        "HttpPort": port,
        "DicomPort": free_port(),
        "StorageDirectory": str(folder / "storage"),
        "IndexDirectory": str(folder / "storage"),
        "RemoteAccessAllowed": False,
        "AuthenticationEnabled": True,
        "RegisteredUsers": {USER: PASSWORD},
        "Plugins": [str(DICOMWEB_PLUGIN)],
        "DicomWeb": {"Enable": True, "Root": "/dicom-web/"},
        "HttpsVerifyPeers": False,
        "StableAge": 1,
    }
    folder.mkdir(parents=True, exist_ok=True)
    config_file = folder / "orthanc.json"
    config_file.write_text(json.dumps(config), encoding="utf-8")
    log = (folder / "orthanc.log").open("wb")
    process = subprocess.Popen([ORTHANC, str(config_file)], stdout=log, stderr=log)
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60
        while True:
            if process.poll() is not None:
                log_text = (folder / "orthanc.log").read_text(errors="replace")
                raise RuntimeError(f"Orthanc exited: {log_text[-2000:]}")
            try:
                if requests.get(f"{url}/system", auth=(USER, PASSWORD), timeout=2).ok:
                    break
            except requests.ConnectionError:
                pass
            if time.monotonic() > deadline:
                raise RuntimeError("Orthanc did not start within 60 s")
            time.sleep(0.2)
        yield Orthanc(url)
    finally:
        process.terminate()
        try:
            process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
        log.close()

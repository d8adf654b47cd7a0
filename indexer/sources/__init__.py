"""Where images come from: a folder or a PACS over DICOMweb, scanned and read through one
interface."""

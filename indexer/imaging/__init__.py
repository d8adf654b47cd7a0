"""Turning image files into pixels: ordinary formats, DICOM rendering and tags, JPEG 2000, burned-in
text."""

"""The index folder on disk: its info record, metadata database, vector file, checksums, publish and
verify."""

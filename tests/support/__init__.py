"""Helpers the tests share: CLI runs, served processes, a real Orthanc, the contract checker."""

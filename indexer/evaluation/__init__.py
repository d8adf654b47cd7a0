"""Retrieval quality of an index, measured on its own images: ``medsearch eval``.

:mod:`.metrics` (per-query metrics), :mod:`.bootstrap` (intervals), :mod:`.dataset` (inputs,
checked), :mod:`.tasks` (exact scoring), :mod:`.served` (through the ANN index), :mod:`.run`
(one evaluation), :mod:`.examples`, :mod:`.table` and :mod:`.report_html` (outputs).
"""

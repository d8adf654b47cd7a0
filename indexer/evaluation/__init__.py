"""Retrieval quality of an index, measured on its own images: ``medsearch eval``.

:mod:`.options` (what the user asks), :mod:`.dataset` and :mod:`.inputs` (inputs, checked),
:mod:`.tasks` (one module per task, and their registry), :mod:`.scoring`, :mod:`.metrics`,
:mod:`.bootstrap` and :mod:`.figures` (exact scoring to figures), :mod:`.served` (through the ANN
index), :mod:`.run` (one evaluation), :mod:`.results` (its typed results), :mod:`.compare`
(differences between indexes), :mod:`.report` (table, JSON document, HTML report, examples).
"""

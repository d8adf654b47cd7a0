"""Where images come from: a folder or a PACS over DICOMweb, scanned, read, shown and linked
through one interface.

:mod:`.base` says what a source is (:class:`~.base.CorpusSource`, :class:`~.base.CorpusFile`);
:mod:`.folder` and :mod:`.dicomweb` are the two kinds; :mod:`.registry` lists the kinds and picks
one for a corpus (:func:`~.registry.open_source`); :mod:`.sidecar` reads a metadata sidecar.
"""

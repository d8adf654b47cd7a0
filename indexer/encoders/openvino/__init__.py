"""The OpenVINO runtime: the towers exported to ONNX (:mod:`indexer.encoders.onnx.export`, read by
OpenVINO as they are) for fp32, and quantised by NNCF for int8 (:mod:`.quantize`), run by
OpenVINO on a CPU (:mod:`.encoder`). Export, cache, calibration and the fidelity guard are those of
the onnx runtime (:func:`indexer.encoders.onnx.loader.load_exported`); :mod:`.loader` names this
runtime for the registry (:mod:`indexer.encoders.runtimes`).
"""

"""The ONNX Runtime: a family's image and text towers exported once, run by ONNX Runtime on a CPU.

:mod:`.export` writes the fp32 towers and caches them, :mod:`.quantize` makes their int8 versions,
:mod:`.encoder` runs them with the family's own preprocessing and tokenisation,
:mod:`.calibration` draws the images and texts that calibrate and check them, :mod:`.fidelity`
compares them with the fp32 PyTorch model and refuses an unfaithful one, and :mod:`.loader` puts
these together for the runtime registry (:mod:`indexer.encoders.runtimes`).
"""

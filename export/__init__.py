"""PyTorch side of swahr-infer: the SWAHR / HigherHRNet network, checkpoint loading, ONNX export.

Needs the ``export`` extra (``pip install "swahr-infer[export]"``: torch, onnx, onnxslim).
Modules: :mod:`export.model` (network and architecture registry), :mod:`export.checkpoint`
(loading any official or DataParallel checkpoint), :mod:`export.onnx_export` (the exporter),
:mod:`export.tensorrt_ops` (the TensorRT parser's operator allow-list).  Nothing heavy is
imported here.
"""

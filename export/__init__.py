"""Export: one module per format (ONNX, INT8 ONNX, TFLite, TensorRT), all driven by the targets table
(``targets.py``) and built for a benchmark by ``builds.py``."""

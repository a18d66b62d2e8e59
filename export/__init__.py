"""Export stages: ONNX (simplified, validated); later TFLite and TensorRT, all driven by ``formats.FORMATS``."""

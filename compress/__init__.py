"""Model compression stages: structured channel pruning, knowledge distillation, INT8 calibration."""

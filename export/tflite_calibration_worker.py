"""A helper process of TFLite calibration (export/tflite_int8.py): TensorFlow's calibrator over a share of the
photos, each photo's logged ranges written to one .npz.

    python -m animegan_deploy.export.tflite_calibration_worker MODEL.tflite PHOTOS.npy OUT.npz

MODEL: the float model with intermediate tensors added (calibrator.add_intermediate_tensors); PHOTOS: N x H x W x 3
float32 in the model's input range. Run as its own program, not through multiprocessing, so that nothing of the
parent's main module is imported again."""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np

from animegan_deploy.atomic import atomic_path
from animegan_deploy.export.tflite_int8 import photo_ranges, write_ranges


def main(argv: list[str]) -> int:
    model, photos, out = (Path(a) for a in argv)
    base, images = model.read_bytes(), np.load(photos)
    logs = [photo_ranges(base, images[i : i + 1]) for i in range(len(images))]
    with atomic_path(out) as tmp:
        write_ranges(tmp, logs)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))

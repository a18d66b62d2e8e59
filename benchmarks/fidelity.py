"""Fidelity of a variant vs the FP32 original: PSNR and SSIM on [0, 255] images (scikit-image's metrics)."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Sequence

import numpy as np
from skimage.metrics import peak_signal_noise_ratio, structural_similarity

from animegan_deploy.stylize import MIN_SIDE, PAD_MULTIPLE

Model = Callable[[np.ndarray], np.ndarray]  # NCHW [-1, 1] -> NCHW [-1, 1]


def to_pixels(nchw: np.ndarray) -> np.ndarray:
    """Generator output in [-1, 1] -> N x H x W x 3 float64 pixels in [0, 255], rounded as a saved PNG."""
    return np.rint(np.clip((nchw.transpose(0, 2, 3, 1) + 1.0) * 127.5, 0.0, 255.0)).astype(np.float64)


def psnr(reference: np.ndarray, test: np.ndarray) -> float:
    if np.array_equal(reference, test):
        return float("inf")
    return float(peak_signal_noise_ratio(reference, test, data_range=255.0))


def ssim(reference: np.ndarray, test: np.ndarray) -> float:
    return float(structural_similarity(reference, test, data_range=255.0, channel_axis=-1))


@dataclass
class Fidelity:
    psnr: float  # dB, mean over images (inf when identical)
    ssim: float
    psnr_min: float
    per_image: list[dict[str, float]]

    @property
    def worst_photo(self) -> str:
        """The name of the photo with the lowest PSNR (the one ``psnr_min`` is of)."""
        return min(self.per_image, key=lambda r: r["psnr_db"])["image"]

    def to_dict(self) -> dict:
        return {"psnr_db": self.psnr, "ssim": self.ssim, "psnr_min_db": self.psnr_min, "per_image": self.per_image}


def eval_inputs(paths: Sequence[Path], size: int, square: bool = False) -> list[tuple[str, np.ndarray]]:
    import cv2

    from animegan_deploy.inputs import read_photo

    out = []
    for path in paths:
        rgb = read_photo(path).rgb
        h, w = rgb.shape[:2]
        if square:
            side = min(h, w)
            y, x = (h - side) // 2, (w - side) // 2
            rgb = cv2.resize(rgb[y : y + side, x : x + side], (size, size), interpolation=cv2.INTER_AREA)
        else:
            scale = size / max(h, w)
            nh = max(MIN_SIDE, round(h * scale / PAD_MULTIPLE) * PAD_MULTIPLE)
            nw = max(MIN_SIDE, round(w * scale / PAD_MULTIPLE) * PAD_MULTIPLE)
            rgb = cv2.resize(rgb, (nw, nh), interpolation=cv2.INTER_AREA)
        out.append((path.name, np.ascontiguousarray(rgb.transpose(2, 0, 1)[None] * 2 - 1, dtype=np.float32)))
    return out


def photo_inputs(folder: Path, size: int, count: int | None = None, square: bool = False,
                 argument: str = "") -> list[tuple[str, np.ndarray]]:
    """The first ``count`` photos of ``folder`` (all when None) loaded as :func:`eval_inputs` does; a folder
    without photos is a user error naming ``argument`` (the option that chose the folder)."""
    from animegan_deploy.errors import UserError
    from animegan_deploy.train.preprocess import list_images

    paths = list_images(Path(folder))
    if not paths:
        raise UserError(f"{argument + ' ' if argument else ''}{folder}: holds no photos; pass a folder of "
                        ".jpg/.png photos")
    return eval_inputs(paths[:count] if count else paths, size, square=square)


def memoized(model: Model) -> Model:
    """``model`` that remembers its output for each input it has seen (keyed by the input's bytes): a reference
    compared with many candidates runs once per photo."""
    import hashlib

    outputs: dict[bytes, np.ndarray] = {}

    def run(x: np.ndarray) -> np.ndarray:
        key = hashlib.blake2b(np.ascontiguousarray(x).tobytes(), digest_size=16).digest() + bytes(str(x.shape), "ascii")
        if key not in outputs:
            outputs[key] = model(x)
        return outputs[key]

    return run


def compare(reference: Model, candidate: Model, inputs: Sequence[tuple[str, np.ndarray]],
            labels: tuple[str, str] = ("the reference", "the candidate")) -> Fidelity:
    """PSNR/SSIM of ``candidate``'s outputs against ``reference``'s on the same inputs. An output holding NaN or
    infinity is a NonFiniteError naming the model (``labels``) and the photo, never a PSNR."""
    from animegan_deploy.finite import check_finite_output

    rows = []
    for name, x in inputs:
        raw_ref, raw_out = reference(x), candidate(x)
        check_finite_output(raw_ref, f"{labels[0]} on {name}")
        check_finite_output(raw_out, f"{labels[1]} on {name}")
        ref = to_pixels(raw_ref)[0]
        out = to_pixels(raw_out)[0]
        rows.append({"image": name, "psnr_db": psnr(ref, out), "ssim": ssim(ref, out)})
    values = [r["psnr_db"] for r in rows]
    finite = [v for v in values if np.isfinite(v)]
    mean_psnr = float(np.mean(finite)) if finite else float("inf")  # identical images (inf) are left out
    return Fidelity(mean_psnr, float(np.mean([r["ssim"] for r in rows])), float(min(values)), rows)

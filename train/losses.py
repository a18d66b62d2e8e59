"""AnimeGANv2 losses, each a small function that can be checked by hand.

content: L1 between VGG features of photo and generated image; style: L1 between Gram matrices of the
generated image and the grayscale anime image; color: L1 on Y and Huber on U, V in YUV; total variation;
adversarial: LSGAN (the original) or hinge. Images are in [-1, 1] throughout.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
import torch.nn.functional as F

# RGB -> YUV as tf.image.rgb_to_yuv, which the original color loss used
RGB_TO_YUV = torch.tensor(
    [
        [0.299, 0.587, 0.114],
        [-0.14714119, -0.28886916, 0.43601035],
        [0.61497538, -0.51496512, -0.10001026],
    ]
)


def gram(features: torch.Tensor) -> torch.Tensor:
    """N x C x C Gram matrices, divided by C*H*W as in the original."""
    n, c, h, w = features.shape
    flat = features.reshape(n, c, h * w)
    return flat @ flat.transpose(1, 2) / (c * h * w)


def content_loss(photo_features: torch.Tensor, fake_features: torch.Tensor) -> torch.Tensor:
    return F.l1_loss(fake_features, photo_features)


def style_loss(style_gray_features: torch.Tensor, fake_features: torch.Tensor) -> torch.Tensor:
    return F.l1_loss(gram(fake_features), gram(style_gray_features))


def rgb_to_yuv(image: torch.Tensor) -> torch.Tensor:
    rgb = (image + 1.0) * 0.5
    return torch.einsum("ij,njhw->nihw", RGB_TO_YUV.to(rgb), rgb)


def color_loss(photo: torch.Tensor, fake: torch.Tensor) -> torch.Tensor:
    a, b = rgb_to_yuv(photo), rgb_to_yuv(fake)
    return (
        F.l1_loss(b[:, 0], a[:, 0])
        + F.huber_loss(b[:, 1], a[:, 1], delta=1.0)
        + F.huber_loss(b[:, 2], a[:, 2], delta=1.0)
    )


def chroma_loss(photo: torch.Tensor, fake: torch.Tensor, pool: int = 4) -> torch.Tensor:
    """L1 between the U and V channels of the ``pool`` x ``pool`` averaged photo and output: region colours."""
    a, b = rgb_to_yuv(F.avg_pool2d(photo, pool)), rgb_to_yuv(F.avg_pool2d(fake, pool))
    return F.l1_loss(b[:, 1:], a[:, 1:])


def pixel_loss(photo: torch.Tensor, fake: torch.Tensor) -> torch.Tensor:
    """Mean absolute RGB difference (init-phase reconstruction when no ImageNet VGG is available)."""
    return F.l1_loss(fake, photo)


def tv_loss(image: torch.Tensor) -> torch.Tensor:
    """Mean of squared neighbour differences / 2 per direction (tf.nn.l2_loss / size, as the original)."""
    dh = image[:, :, 1:, :] - image[:, :, :-1, :]
    dw = image[:, :, :, 1:] - image[:, :, :, :-1]
    return (dh * dh).mean() / 2 + (dw * dw).mean() / 2


def generator_adv_loss(fake_logits: torch.Tensor, kind: str) -> torch.Tensor:
    if kind == "lsgan":
        return ((fake_logits - 1.0) ** 2).mean()
    if kind == "hinge":
        return -fake_logits.mean()
    raise ValueError(f"unknown GAN loss {kind!r}")


def _real_term(logits: torch.Tensor, kind: str) -> torch.Tensor:
    return ((logits - 1.0) ** 2).mean() if kind == "lsgan" else F.relu(1.0 - logits).mean()


def _fake_term(logits: torch.Tensor, kind: str) -> torch.Tensor:
    return (logits**2).mean() if kind == "lsgan" else F.relu(1.0 + logits).mean()


@dataclass(frozen=True)
class DiscriminatorWeights:
    """Each term's weight in the discriminator loss; AnimeGANv2's Hayao weights: 1.2 for real anime, generated
    pictures and grayscale anime, 0.8 for edge-smoothed anime (the blurred edges D must learn to call fake)."""

    real: float = 1.2
    fake: float = 1.2
    gray: float = 1.2
    smooth: float = 0.8


def discriminator_loss(
    real: torch.Tensor,
    fake: torch.Tensor,
    gray: torch.Tensor,
    smooth: torch.Tensor,
    kind: str,
    weights: DiscriminatorWeights,
) -> tuple[torch.Tensor, dict[str, torch.Tensor]]:
    """D sees real anime as real; generated, grayscale anime and edge-smoothed anime as fake."""
    terms = {
        "d_real": _real_term(real, kind),
        "d_fake": _fake_term(fake, kind),
        "d_gray": _fake_term(gray, kind),
        "d_smooth": _fake_term(smooth, kind),
    }
    total = (
        weights.real * terms["d_real"]
        + weights.fake * terms["d_fake"]
        + weights.gray * terms["d_gray"]
        + weights.smooth * terms["d_smooth"]
    )
    return total, terms

"""Every AnimeGANv2 loss against a value computed by hand on a small tensor."""

import math

import pytest
import torch

from animegan_deploy.train import losses as L


def test_gram_is_normalized_by_chw():
    features = torch.tensor([[[[1.0, 2.0]], [[3.0, 4.0]]]])  # N=1, C=2, H=1, W=2
    expected = torch.tensor([[[5.0, 11.0], [11.0, 25.0]]]) / 4
    assert torch.allclose(L.gram(features), expected)


def test_content_loss_is_mean_absolute_feature_difference():
    a = torch.tensor([[[[1.0, -1.0]]]])
    b = torch.tensor([[[[0.5, 1.0]]]])
    assert L.content_loss(a, b).item() == pytest.approx((0.5 + 2.0) / 2)


def test_style_loss_compares_gram_matrices():
    gray = torch.tensor([[[[1.0, 2.0]], [[3.0, 4.0]]]])
    fake = torch.zeros_like(gray)
    # |gram(gray) - 0| averaged over the 4 entries: (1.25 + 2.75 + 2.75 + 6.25) / 4
    assert L.style_loss(gray, fake).item() == pytest.approx(13.0 / 4 / 1)  # 3.25


def test_color_loss_black_vs_white_is_one():
    black = -torch.ones(1, 3, 2, 2)
    white = torch.ones(1, 3, 2, 2)
    assert L.color_loss(black, white).item() == pytest.approx(1.0, abs=1e-6)  # Y differs by 1, U=V=0


def test_color_loss_black_vs_red_uses_l1_on_y_and_huber_on_uv():
    black = -torch.ones(1, 3, 1, 1)
    red = torch.tensor([1.0, -1.0, -1.0]).view(1, 3, 1, 1)
    y, u, v = 0.299, -0.14714119, 0.61497538
    expected = y + 0.5 * u * u + 0.5 * v * v  # |dU|, |dV| < 1: the quadratic branch of Huber
    assert L.color_loss(black, red).item() == pytest.approx(expected, rel=1e-6)


def test_tv_loss():
    image = torch.tensor([[[[0.0, 1.0], [2.0, 3.0]]]])
    # vertical diffs 2,2 -> mean square 4 -> /2 = 2; horizontal diffs 1,1 -> 1 -> /2 = 0.5
    assert L.tv_loss(image).item() == pytest.approx(2.5)


def test_generator_adversarial_losses():
    logits = torch.tensor([0.0, 1.0])
    assert L.generator_adv_loss(logits, "lsgan").item() == pytest.approx(0.5)
    assert L.generator_adv_loss(logits, "hinge").item() == pytest.approx(-0.5)
    with pytest.raises(ValueError):
        L.generator_adv_loss(logits, "wgan")


def test_discriminator_lsgan_with_per_term_weights():
    real, fake, gray, smooth = torch.tensor([1.0, 0.0]), torch.tensor([0.5]), torch.tensor([1.0]), torch.tensor([0.0])
    total, terms = L.discriminator_loss(real, fake, gray, smooth, "lsgan", L.DiscriminatorWeights(1.2, 1.2, 1.2, 0.8))
    assert terms["d_real"].item() == pytest.approx(0.5)
    assert terms["d_fake"].item() == pytest.approx(0.25)
    assert terms["d_gray"].item() == pytest.approx(1.0)
    assert terms["d_smooth"].item() == pytest.approx(0.0)
    assert total.item() == pytest.approx(1.2 * 0.5 + 1.2 * 0.25 + 1.2 * 1.0)


def test_discriminator_hinge():
    real, fake = torch.tensor([2.0, 0.0]), torch.tensor([-2.0, 0.0])
    gray, smooth = torch.tensor([0.5]), torch.tensor([-0.5])
    total, terms = L.discriminator_loss(real, fake, gray, smooth, "hinge", L.DiscriminatorWeights(1, 1, 1, 0.5))
    assert terms["d_real"].item() == pytest.approx(0.5)  # relu(1-2)=0, relu(1-0)=1
    assert terms["d_fake"].item() == pytest.approx(0.5)  # relu(1-2)=0, relu(1+0)=1
    assert terms["d_gray"].item() == pytest.approx(1.5)
    assert terms["d_smooth"].item() == pytest.approx(0.5)
    assert total.item() == pytest.approx(0.5 + 0.5 + 1.5 + 0.25)


def test_yuv_of_white_is_one_zero_zero():
    yuv = L.rgb_to_yuv(torch.ones(1, 3, 1, 1)).flatten()
    assert torch.allclose(yuv, torch.tensor([1.0, 0.0, 0.0]), atol=1e-6)
    assert not math.isnan(yuv.sum().item())


def test_pixel_loss_is_mean_absolute_difference():
    photo = torch.tensor([[[[0.5, -0.5], [1.0, 0.0]]]])
    fake = torch.tensor([[[[0.0, -0.5], [0.0, 0.5]]]])
    assert float(L.pixel_loss(photo, fake)) == pytest.approx((0.5 + 0 + 1.0 + 0.5) / 4)


def test_chroma_loss_is_l1_on_pooled_u_and_v_and_ignores_luma_and_texture():
    gray = torch.zeros(1, 3, 8, 8)  # mid gray: U = V = 0
    red = gray.clone()
    red[:, 0] = 1.0  # rgb (1, 0, 0) in [-1, 1] = (1, 0.5, 0.5) in [0, 1]
    u, v = L.RGB_TO_YUV[1:] @ torch.tensor([1.0, 0.5, 0.5])  # minus gray's (0): U = -0.07357, V = 0.30749
    assert L.chroma_loss(gray, red).item() == pytest.approx((abs(u) + abs(v)).item() / 2, rel=1e-5)
    brighter = gray + 0.4  # luma only: no chroma change
    assert L.chroma_loss(gray, brighter).item() == pytest.approx(0.0, abs=1e-6)
    checker = red.clone()  # a 2 px red/cyan texture whose 4x4 average is gray: the pooled colour is unchanged
    checker[:, :, ::2, ::2] = -red[:, :, ::2, ::2]
    checker[:, :, 1::2, 1::2] = -red[:, :, 1::2, 1::2]
    assert L.chroma_loss(gray, checker).item() == pytest.approx(0.0, abs=1e-6)

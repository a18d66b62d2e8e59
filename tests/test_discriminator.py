"""The PatchGAN discriminator gives an N x 1 x H/4 x W/4 logit map through spectral-normalized convs."""

import torch

from animegan_deploy.train.discriminator import Discriminator


def test_patch_logits_and_spectral_norm():
    d = Discriminator(channels=16, layers=3)
    out = d(torch.rand(2, 3, 64, 48))
    assert out.shape == (2, 1, 16, 12)
    convs = [m for m in d.modules() if isinstance(m, torch.nn.Conv2d)]
    assert len(convs) == 7 and all(hasattr(c, "parametrizations") for c in convs)
    assert [c.out_channels for c in convs] == [8, 16, 32, 32, 64, 64, 1]

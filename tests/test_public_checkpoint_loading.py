"""A state_dict saved in the public port's format loads and reproduces the port's outputs bit-exactly."""

import pytest
import torch

from animegan_deploy.models.checkpoints import load_generator
from upstream_port import UpstreamGenerator


@pytest.fixture(scope="module")
def upstream():
    torch.manual_seed(123)
    model = UpstreamGenerator().eval()
    with torch.no_grad():  # non-trivial norm parameters so every tensor matters
        for name, p in model.named_parameters():
            if p.ndim == 1:
                p.add_(torch.randn_like(p) * 0.1)
    return model


@pytest.mark.parametrize("align_corners", [True, False])
def test_plain_state_dict_reproduces_outputs_bit_exactly(tmp_path, upstream, align_corners):
    path = tmp_path / "paprika.pt"
    torch.save(upstream.state_dict(), path)
    loaded = load_generator(path, align_corners=align_corners)
    x = torch.rand(1, 3, 72, 56) * 2 - 1
    with torch.no_grad():
        expected = upstream(x, align_corners=align_corners)
        actual = loaded.model(x)
    assert torch.equal(actual, expected)
    assert loaded.info.style == "paprika"
    assert loaded.info.width == 1.0


@pytest.mark.parametrize(
    "wrap",
    [
        lambda sd: {"state_dict": sd},
        lambda sd: {"generator": sd, "epoch": 3},
        lambda sd: {"model": {f"module.{k}": v for k, v in sd.items()}},
        lambda sd: {f"module.{k}": v for k, v in sd.items()},
    ],
    ids=["state_dict", "generator+extra", "model+module-prefix", "module-prefix"],
)
def test_common_containers_are_unwrapped(tmp_path, upstream, wrap):
    path = tmp_path / "wrapped.pth"
    torch.save(wrap(upstream.state_dict()), path)
    loaded = load_generator(path)
    for key, value in upstream.state_dict().items():
        assert torch.equal(loaded.model.state_dict()[key], value)


def test_narrow_public_style_checkpoint_infers_its_widths(tmp_path):
    from animegan_deploy.models import Generator

    source = Generator(width=0.5)
    path = tmp_path / "student.pt"
    torch.save(source.state_dict(), path)
    loaded = load_generator(path)
    assert loaded.info.width == 0.5
    assert loaded.model.plan == source.plan

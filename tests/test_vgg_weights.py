"""VGG19 weights come from a path or the hub cache; without them training refuses unless 'random' is explicit."""

import pytest
import torch

from animegan_deploy.errors import UserError
from animegan_deploy.train import vgg as V


def torchvision_like_state(seed=0):
    model = V.VGG19Conv44()
    torch.manual_seed(seed)
    state = {k: torch.randn_like(v) for k, v in model.features.state_dict().items()}
    state = {f"features.{k}": v for k, v in state.items()}
    # torchvision's file also holds later layers and the classifier, which are ignored
    state["features.28.weight"] = torch.zeros(512, 512, 3, 3)
    state["classifier.0.weight"] = torch.zeros(10, 10)
    return state


def test_local_file_in_torchvision_format_loads(tmp_path):
    path = tmp_path / "vgg19-dcbb9e9d.pth"
    state = torchvision_like_state()
    torch.save(state, path)
    model = V.load_vgg(str(path))
    assert torch.equal(model.features[25].weight, state["features.25.weight"])
    assert not any(p.requires_grad for p in model.parameters())
    assert len(model.features) == 26 and isinstance(model.features[-1], torch.nn.Conv2d)  # pre-ReLU conv4_4


def test_hub_cache_is_used_without_download(tmp_path, monkeypatch):
    monkeypatch.setenv("TORCH_HOME", str(tmp_path))
    cached = V.hub_cache_file()
    cached.parent.mkdir(parents=True)
    torch.save(torchvision_like_state(1), cached)
    monkeypatch.setattr(torch.hub, "download_url_to_file", lambda *a, **k: pytest.fail("must not download"))
    assert V.load_vgg("imagenet").source.startswith("imagenet")


def test_refuses_without_weights_and_names_the_fix(tmp_path, monkeypatch):
    monkeypatch.setenv("TORCH_HOME", str(tmp_path))

    def offline(*args, **kwargs):
        raise OSError("network unreachable")

    monkeypatch.setattr(torch.hub, "download_url_to_file", offline)
    with pytest.raises(UserError, match="--vgg-weights random"):
        V.load_vgg("imagenet")
    assert not V.hub_cache_file().exists()


def test_random_is_deterministic_and_wrong_files_are_refused(tmp_path):
    a, b = V.load_vgg("random"), V.load_vgg("random")
    assert torch.equal(a.features[0].weight, b.features[0].weight)
    bad = tmp_path / "bad.pth"
    torch.save({"features.0.weight": torch.zeros(3)}, bad)
    with pytest.raises(UserError, match="not torchvision's vgg19"):
        V.load_vgg(str(bad))

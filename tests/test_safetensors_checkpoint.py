"""The project's safetensors checkpoints carry their architecture and reload from the file alone."""

import json
from dataclasses import replace

import pytest
import torch
from safetensors import safe_open

from animegan_deploy.errors import UserError
from animegan_deploy.models import ChannelPlan, Generator
from animegan_deploy.models.checkpoints import load_generator, save_checkpoint
from conftest import randomized_generator, files_in


def test_roundtrip_keeps_weights_and_metadata(tmp_path):
    model = randomized_generator(width=0.5, align_corners=False)
    path = save_checkpoint(model, tmp_path / "m.safetensors", style="hayao", provenance={"trained_steps": 12})
    with safe_open(str(path), framework="pt") as handle:
        meta = handle.metadata()
    assert meta["architecture"] == "animeganv2"
    assert meta["width"] == "0.5" and meta["align_corners"] == "false" and meta["normalization"] == "group"
    assert json.loads(meta["provenance"]) == {"trained_steps": 12}
    loaded = load_generator(path)
    assert loaded.info.style == "hayao" and loaded.model.align_corners is False
    x = torch.rand(1, 3, 40, 40) * 2 - 1
    with torch.no_grad():
        assert torch.equal(loaded.model(x), model(x))


def test_per_layer_channel_plan_reloads_without_pickled_modules(tmp_path):
    plan = replace(ChannelPlan.for_width(0.25), c2_hidden=37, e1=5, trunk=50, c0=50)
    model = Generator(channels=plan)
    path = save_checkpoint(model, tmp_path / "pruned.safetensors")
    loaded = load_generator(path)
    assert loaded.model.plan == plan
    # equal in/out widths must not turn the first inverted block into a residual one
    assert loaded.model.block_c[1].use_res_connect is False
    x = torch.rand(1, 3, 32, 32)
    with torch.no_grad():
        assert torch.equal(loaded.model(x), model.eval()(x))


def test_explicit_norm_checkpoint_rebuilds_in_that_form(tmp_path):
    model = randomized_generator().set_norm("explicit")
    loaded = load_generator(save_checkpoint(model, tmp_path / "e.safetensors"))
    assert loaded.model.norm_kind == "explicit"


def test_failed_save_leaves_previous_file_and_no_temp(tmp_path, monkeypatch):
    path = save_checkpoint(Generator(width=0.25), tmp_path / "keep.safetensors")
    before = path.read_bytes()
    import animegan_deploy.models.checkpoints as ck

    def explode(tensors, filename, metadata=None):
        with open(filename, "wb") as handle:
            handle.write(b"partial")
        raise OSError("disk full")

    monkeypatch.setattr(ck, "save_safetensors_file", explode)
    with pytest.raises(OSError):
        save_checkpoint(Generator(width=0.5), path)
    assert path.read_bytes() == before
    assert [p.name for p in files_in(tmp_path)] == ["keep.safetensors"]


def test_corrupt_safetensors_is_a_user_error(tmp_path):
    path = tmp_path / "bad.safetensors"
    path.write_bytes(b"\x08\x00\x00\x00\x00\x00\x00\x00{garbage")
    with pytest.raises(UserError, match="not a readable safetensors"):
        load_generator(path)

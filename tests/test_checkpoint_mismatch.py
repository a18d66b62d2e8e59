"""A state_dict that does not fit gives one line naming the missing, unexpected and mis-shaped keys."""

import pytest
import torch

from animegan_deploy.cli import main
from animegan_deploy.errors import UserError
from animegan_deploy.models import Generator
from animegan_deploy.models.checkpoints import load_generator


def broken_state_dict():
    state = Generator().state_dict()
    state.pop("out_layer.0.weight")
    state["extra.weight"] = torch.zeros(3)
    state["block_c.1.layers.1.1.bias"] = torch.zeros(7)
    return state


def test_message_names_each_kind_of_problem(tmp_path):
    path = tmp_path / "broken.pt"
    torch.save(broken_state_dict(), path)
    with pytest.raises(UserError) as info:
        load_generator(path)
    message = str(info.value)
    assert "\n" not in message
    assert "missing [out_layer.0.weight]" in message
    assert "unexpected [extra.weight]" in message
    assert "mis-shaped [block_c.1.layers.1.1.bias (7,) vs model (256,)]" in message
    assert str(path) in message


def test_cli_exit_code_and_single_line(tmp_path, capsys):
    path = tmp_path / "broken.pt"
    torch.save(broken_state_dict(), path)
    assert main(["convert", str(path), str(tmp_path / "x.safetensors")]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "does not fit" in err


@pytest.mark.parametrize(
    "content, expect",
    [(b"", "empty file"), (b"this is not a checkpoint", "not a readable PyTorch checkpoint")],
    ids=["empty", "garbage"],
)
def test_unreadable_files_are_user_errors(tmp_path, content, expect):
    path = tmp_path / "bad.pt"
    path.write_bytes(content)
    with pytest.raises(UserError, match=expect):
        load_generator(path)


def test_unknown_suffix_and_missing_file(tmp_path):
    with pytest.raises(UserError, match="unsupported checkpoint type"):
        load_generator(tmp_path / "model.h5")
    with pytest.raises(UserError, match="not found"):
        load_generator(tmp_path / "nope.pt")

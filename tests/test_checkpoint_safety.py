"""A checkpoint pickle that holds anything but tensors is refused and never executed."""

import pickle

import pytest
import torch

from animegan_deploy.cli import main
from animegan_deploy.errors import UserError
from animegan_deploy.models.checkpoints import load_generator

MARKER_NAME = "pwned.txt"


class Payload:
    """Unpickling this would create a file: proof of code execution."""

    def __init__(self, marker):
        self.marker = marker

    def __reduce__(self):
        return (open, (self.marker, "w"))


def test_code_executing_pickle_is_refused_and_not_run(tmp_path):
    marker = tmp_path / MARKER_NAME
    path = tmp_path / "evil.pt"
    torch.save({"block_a.0.1.weight": torch.zeros(1), "payload": Payload(str(marker))}, path)
    with pytest.raises(UserError, match="refused to load"):
        load_generator(path)
    assert not marker.exists()


def test_raw_pickle_of_an_object_is_refused(tmp_path):
    path = tmp_path / "object.pth"
    with open(path, "wb") as handle:
        pickle.dump({"weights": Payload(str(tmp_path / MARKER_NAME))}, handle)
    with pytest.raises(UserError, match="refused to load|not a readable"):
        load_generator(path)
    assert not (tmp_path / MARKER_NAME).exists()


def test_cli_reports_refusal_in_one_line(tmp_path, capsys):
    marker = tmp_path / MARKER_NAME
    path = tmp_path / "evil.pt"
    torch.save({"x": Payload(str(marker))}, path)
    code = main(["convert", str(path), str(tmp_path / "out.safetensors")])
    err = capsys.readouterr().err.strip()
    assert code == 2
    assert len(err.splitlines()) == 1
    assert err.startswith("error: ") and "evil.pt" in err and "refused" in err
    assert not marker.exists() and not (tmp_path / "out.safetensors").exists()

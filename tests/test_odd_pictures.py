"""Pictures of any shape are stylized: 1-pixel-thin strips and 3x2 images at their own size (--size 0) come back
at their size; in a folder, one picture the model cannot run on is named and the rest are still written."""

import numpy as np
from PIL import Image

from animegan_deploy.cli import main
from animegan_deploy.stylize import MIN_SIDE, padded_side, to_model_input
from conftest import photo, save_photo


def test_padded_sides_reach_the_minimum_and_a_multiple_of_four():
    assert [padded_side(s) for s in (1, 2, 3, 7, 8, 9, 12, 13)] == [8, 8, 8, 8, 8, 12, 12, 16]
    x, valid = to_model_input(np.zeros((1, 300, 3), np.float32), (1, 300), pad=True)
    assert x.shape == (3, MIN_SIDE, 300) and valid == (1, 300)


def test_thin_and_tiny_pictures_come_back_at_their_size(tmp_path, tiny_checkpoint, capsys):
    shapes = {"row.png": (1, 1000), "column.png": (1000, 1), "tiny.png": (2, 3), "normal.png": (40, 56)}
    for name, (h, w) in shapes.items():
        save_photo(tmp_path / "in" / name, (np.random.default_rng(0).random((h, w, 3)) * 255).astype(np.uint8))
    for size in ("0", "64"):
        out = tmp_path / f"out{size}"
        assert main(["stylize", str(tmp_path / "in"), "-w", str(tiny_checkpoint), "--size", size, "-o", str(out)]) == 0
        for name, (h, w) in shapes.items():
            assert Image.open(out / name).size == (w, h), (size, name)
    assert "error" not in capsys.readouterr().err


def picky_runner(path, device="cpu", threads=None):
    """A backend (registered in the public table below) whose model cannot take pictures under 32 px high."""
    from animegan_deploy.backends import load_runner

    inner = load_runner(path, backend="torch", threads=threads)

    class Picky:
        name, fixed_hw, fixed_batch = "picky", None, None

        def __call__(self, batch):
            if batch.shape[2] < 32:
                raise RuntimeError("Padding size should be less than the corresponding input dimension")
            return inner(batch)

    return Picky()


def test_one_picture_the_model_cannot_take_is_named_and_the_rest_written(tmp_path, tiny_checkpoint, capsys,
                                                                         monkeypatch):
    from animegan_deploy.backends.registry import BACKENDS, Backend

    monkeypatch.setitem(BACKENDS, "picky", Backend("picky", (".safetensors",), (), "", "fails on small pictures",
                                                   runner=picky_runner))
    save_photo(tmp_path / "in" / "a.png", photo(40, 56))
    save_photo(tmp_path / "in" / "b.png", photo(24, 32, seed=1))
    code = main(["stylize", str(tmp_path / "in"), "-w", str(tiny_checkpoint), "--size", "0", "--backend", "picky",
                 "--batch-size", "1", "-o", str(tmp_path / "o")])
    err = capsys.readouterr().err
    assert code == 1
    assert [line for line in err.splitlines() if line.startswith("error:")] == [
        f"error: {tmp_path / 'in' / 'b.png'}: the model could not run on this 32x24 picture (Padding size should be "
        "less than the corresponding input dimension)"]
    assert (tmp_path / "o" / "a.png").is_file() and not (tmp_path / "o" / "b.png").exists()

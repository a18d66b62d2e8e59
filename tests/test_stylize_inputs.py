"""`animegan stylize` on good inputs of every kind and on bad ones: outputs, messages, exit code."""

import numpy as np
import pytest
import torch
from PIL import Image

from animegan_deploy.cli import main
from animegan_deploy.imageio import read_image
from animegan_deploy.models.checkpoints import load_generator
from animegan_deploy.stylize import StylizeConfig, stylize
from conftest import photo, save_photo, files_in


@pytest.fixture()
def inputs(tmp_path):
    folder = tmp_path / "in"
    folder.mkdir()
    save_photo(folder / "rgb.jpg", photo(48, 64), quality=95)
    rgba = np.concatenate([photo(40, 40, seed=1), np.full((40, 40, 1), 128, np.uint8)], axis=2)
    rgba[:10, :10, 3] = 0
    Image.fromarray(rgba, "RGBA").save(folder / "alpha.png")
    Image.fromarray(photo(36, 52, seed=2)[:, :, 0], "L").save(folder / "gray.png")
    gray16 = (np.linspace(0, 65535, 30 * 44).reshape(30, 44)).astype(np.uint16)
    Image.fromarray(gray16).save(folder / "gray16.png")
    import cv2

    rgb16 = (photo(28, 36, seed=3).astype(np.uint16) * 257)
    cv2.imwrite(str(folder / "rgb16.png"), rgb16[:, :, ::-1])
    rotated = Image.fromarray(photo(30, 50, seed=4))
    exif = rotated.getexif()
    exif[0x0112] = 6  # stored landscape, shown portrait
    rotated.save(folder / "exif6.jpg", exif=exif)
    return folder


def test_every_kind_of_good_image(inputs, tiny_checkpoint, tmp_path):
    out = tmp_path / "out"
    report = stylize([str(inputs)], tiny_checkpoint, StylizeConfig(size=0, batch_size=2), out)
    assert report.ok, report.failed
    names = sorted(p.name for p in files_in(out))
    assert names == ["alpha.png", "exif6.png", "gray.png", "gray16.png", "rgb.png", "rgb16.png"]
    sizes = {p.name: Image.open(p).size for p in files_in(out)}
    assert sizes["rgb.png"] == (64, 48)
    assert sizes["exif6.png"] == (30, 50)  # upright: rotated to portrait
    assert sizes["gray16.png"] == (44, 30)
    with Image.open(out / "alpha.png") as image:
        assert image.mode == "RGBA"
        alpha = np.asarray(image)[:, :, 3]
    assert alpha[:10, :10].max() == 0 and alpha[20:, 20:].min() == 128
    assert read_image(inputs / "rgb16.png").bit_depth == 16


def test_output_equals_the_model_on_the_same_pixels(tmp_path, tiny_checkpoint):
    """--size 0 on a size divisible by 4: the written PNG is exactly the model's output, quantized."""
    src = save_photo(tmp_path / "p.png", photo(32, 48, seed=7))
    out = tmp_path / "out"
    stylize([str(src)], tiny_checkpoint, StylizeConfig(size=0), out)
    x = torch.from_numpy(photo(32, 48, seed=7).astype(np.float32) / 255).permute(2, 0, 1)[None] * 2 - 1
    with torch.no_grad():
        y = load_generator(tiny_checkpoint).model(x)[0].permute(1, 2, 0).numpy()
    expected = np.clip((y + 1) * 0.5, 0, 1) * 255
    written = np.asarray(Image.open(out / "p.png"), dtype=np.float32)
    assert np.abs(written - expected).max() <= 0.51


def test_size_option_resizes_processing_but_keeps_the_output_size(tmp_path, tiny_checkpoint):
    src = save_photo(tmp_path / "big.png", photo(90, 150))
    out = tmp_path / "o"
    report = stylize([str(src)], tiny_checkpoint, StylizeConfig(size=64), out)
    assert report.ok and Image.open(out / "big.png").size == (150, 90)


def test_bad_inputs_are_reported_and_the_rest_processed(inputs, tiny_checkpoint, tmp_path, capsys):
    good = inputs / "rgb.jpg"
    data = good.read_bytes()
    (tmp_path / "truncated.jpg").write_bytes(data[: len(data) // 2])
    (tmp_path / "empty.png").write_bytes(b"")
    (tmp_path / "notes.png").write_text("this is a text file, not a PNG\n")
    out = tmp_path / "out"
    code = main([
        "stylize", str(good), str(tmp_path / "truncated.jpg"), str(tmp_path / "empty.png"),
        str(tmp_path / "notes.png"), str(tmp_path / "missing.jpg"), str(tmp_path / "*.nomatch"),
        "-w", str(tiny_checkpoint), "-o", str(out), "--size", "64",
    ])
    captured = capsys.readouterr()
    errors = [line for line in captured.err.splitlines() if line.startswith("error:")]
    assert code == 1
    assert (out / "rgb.png").is_file() and len(list(files_in(out))) == 1
    expected = {
        "truncated.jpg": "corrupt or truncated",
        "empty.png": "empty file (0 bytes)",
        "notes.png": "not an image",
        "missing.jpg": "no such file",
        "*.nomatch": "no files match",
    }
    assert len(errors) == len(expected)
    for name, reason in expected.items():
        assert any(name in line and reason in line for line in errors), (name, errors)
    assert "stylized 1 file(s)" in captured.out and "5 failed" in captured.out


def test_glob_and_onnx_backend(tmp_path, tiny_checkpoint):
    from animegan_deploy.export.onnx_export import OnnxExportConfig, export_onnx

    onnx_path = export_onnx(tiny_checkpoint, OnnxExportConfig(validate_sizes=((32, 32),)), tmp_path / "m.onnx").path
    for i in range(3):
        save_photo(tmp_path / f"shot{i}.png", photo(32, 40, seed=i))
    code = main(["stylize", str(tmp_path / "shot*.png"), "-w", str(onnx_path), "-o", str(tmp_path / "o"),
                 "--size", "0", "--batch-size", "2", "--threads", "1"])
    assert code == 0
    a = np.asarray(Image.open(tmp_path / "o" / "shot1.png"), dtype=np.int16)
    stylize([str(tmp_path / "shot1.png")], tiny_checkpoint, StylizeConfig(size=0), tmp_path / "t")
    b = np.asarray(Image.open(tmp_path / "t" / "shot1.png"), dtype=np.int16)
    assert np.abs(a - b).max() <= 1  # ORT and torch agree to rounding


def test_wrong_backend_for_file_is_one_line(tmp_path, tiny_checkpoint, capsys):
    src = save_photo(tmp_path / "p.png", photo())
    code = main(["stylize", str(src), "-w", str(tiny_checkpoint), "--backend", "onnxruntime", "-o", str(tmp_path / "o")])
    err = capsys.readouterr().err
    assert code == 2 and "backend onnxruntime runs .onnx files" in err

"""The student recipe reuses an artifact only while the photos its config names are the same pictures: a replaced
evaluation photo (same name, other content) makes its INT8 file and figures stale."""

from animegan_deploy.compress.quantize import QuantizeConfig
from animegan_deploy.compress.student_recipe import _current, stamp_photo_digests
from animegan_deploy.sidecar import write_sidecar
from conftest import photo, save_photo


def test_a_replaced_photo_makes_the_artifact_stale(tmp_path):
    source = tmp_path / "student.onnx"
    source.write_bytes(b"fp32 graph")
    for seed in range(2):
        save_photo(tmp_path / "eval" / f"p{seed}.png", photo(24, 32, seed=seed))
    config = QuantizeConfig(size=32, eval_dir=str(tmp_path / "eval"))
    artifact = tmp_path / "student.int8.onnx"
    artifact.write_bytes(b"int8 graph")
    write_sidecar(artifact, "onnx-int8", source=source, config=config)
    assert not _current(artifact, source, config)  # made before the photos were recorded: rebuilt once
    stamp_photo_digests(artifact, config)
    assert _current(artifact, source, config)
    save_photo(tmp_path / "eval" / "p1.png", photo(24, 32, seed=9))  # same name, another picture
    assert not _current(artifact, source, config)

"""Videos are stylized frame by frame into a video of the same size and frame count."""

import cv2

from animegan_deploy.stylize import StylizeConfig, stylize
from conftest import photo


def write_video(path, frames=5, size=(40, 56), fourcc="mp4v"):
    writer = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*fourcc), 10.0, (size[1], size[0]))
    assert writer.isOpened()
    for i in range(frames):
        writer.write(photo(*size, seed=i)[:, :, ::-1].copy())
    writer.release()
    return path


def count_frames(path):
    capture = cv2.VideoCapture(str(path))
    n, shape = 0, None
    while True:
        ok, frame = capture.read()
        if not ok:
            break
        n, shape = n + 1, frame.shape
    capture.release()
    return n, shape


def test_mp4_and_avi(tmp_path, tiny_checkpoint):
    mp4 = write_video(tmp_path / "clip.mp4")
    avi = write_video(tmp_path / "clip2.avi", frames=3, fourcc="MJPG")
    out = tmp_path / "out"
    report = stylize([str(mp4), str(avi)], tiny_checkpoint, StylizeConfig(size=0, batch_size=2), out)
    assert report.ok, report.failed
    assert count_frames(out / "clip.mp4") == (5, (40, 56, 3))
    assert count_frames(out / "clip2.avi") == (3, (40, 56, 3))


def test_corrupt_video_is_reported(tmp_path, tiny_checkpoint):
    bad = tmp_path / "broken.mp4"
    bad.write_bytes(b"\x00\x00\x00\x18ftypmp42" + b"\x00" * 64)
    out = tmp_path / "out"
    report = stylize([str(bad)], tiny_checkpoint, StylizeConfig(), out)
    assert len(report.failed) == 1 and report.failed[0][0].endswith("broken.mp4")
    assert not any(out.iterdir())  # nothing half-written left behind

"""Sparsity training (L1 on norm scales) pushes scales under the threshold before pruning, and is reported."""

from animegan_deploy.compress.prune import PruneConfig, prune_checkpoint
from animegan_deploy.models.checkpoints import save_checkpoint
from conftest import photo, randomized_generator, save_photo


def test_more_channels_fall_under_the_threshold(tmp_path):
    photos = tmp_path / "photos"
    photos.mkdir()
    for i in range(2):
        save_photo(photos / f"p{i}.png", photo(48, 48, seed=i))
    source = save_checkpoint(randomized_generator(), tmp_path / "m.safetensors")
    config = PruneConfig(threshold=0.9, sparsity=1.0, sparsity_steps=6, sparsity_lr=0.05, photo_dir=str(photos),
                         eval_dir=str(photos), eval_size=48, crop=32, batch_size=2, threads=1)
    report = prune_checkpoint(source, config, tmp_path / "m.pruned.safetensors", progress=False).report
    assert report["under_threshold_after_sparsity"] > report["under_threshold_before_sparsity"]
    assert 0 < report["removed_channels"] <= report["under_threshold_after_sparsity"]
    assert report["sparsity_training"]["steps"] == 6
    assert "fidelity_sparse_vs_original" in report
    assert (tmp_path / "m.pruned.sparsity-run" / "checkpoints" / "last.pt").is_file()

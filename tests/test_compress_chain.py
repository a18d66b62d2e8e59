"""The chain teacher -> base -> pruned student runs end to end from the CLI (two commands for prune -> distill)."""

from animegan_deploy.cli import main
from animegan_deploy.models.checkpoints import load_generator
from animegan_deploy.sidecar import read_sidecar
from conftest import photo, save_photo
from train_helpers import write_config


def test_teacher_base_pruned_student(tmp_path):
    # a (tiny) wider teacher trained with the training recipe
    config = write_config(tmp_path, tmp_path / "teacher", init_steps=2, gan_steps=2)
    assert main(["train", "--config", str(config), "--quiet", "--set", "model.width=0.25"]) == 0
    teacher = tmp_path / "teacher" / "generator.safetensors"
    photos = tmp_path / "data" / "photos"
    held = tmp_path / "held"
    held.mkdir()
    save_photo(held / "h.png", photo(40, 40, seed=5))
    common = ["--photo-dir", str(photos), "--eval-dir", str(held), "--eval-size", "40", "--crop", "32",
              "--batch-size", "2", "--threads", "1"]
    base = tmp_path / "base.safetensors"
    assert main(["distill", "width:0.125", "--teacher", str(teacher), "-o", str(base), "--steps", "3", "--quiet",
                 *common]) == 0
    pruned = tmp_path / "base.pruned.safetensors"
    # the two-command chain: prune (with sparsity training) then distill the pruned student from its base
    assert main(["prune", "-w", str(base), "-o", str(pruned), "--sparsity", "1.0", "--sparsity-steps", "4",
                 "--sparsity-lr", "0.3", "--sparsity-scale-lr", "0.3", "--threshold", "0.5", "--quiet", *common]) == 0
    student = tmp_path / "student.safetensors"
    assert main(["distill", str(pruned), "--teacher", str(base), "-o", str(student), "--steps", "3", "--quiet",
                 *common]) == 0
    loaded = load_generator(student)
    assert loaded.model.plan == load_generator(pruned).model.plan
    assert sum(loaded.model.plan.to_dict().values()) < sum(load_generator(base).model.plan.to_dict().values())
    assert read_sidecar(student)["source"]["path"] == str(base)

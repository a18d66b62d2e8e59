"""An option two commands share is declared once: `distill` and `student` take --steps, --lr, --content, --hints,
--sparsity and --checkpoint-every from DistillOptions, with one help text, each command with its own defaults
(configs.with_defaults), and the student recipe's distillation run gets exactly the student's values."""

from dataclasses import dataclass, fields

import pytest

from animegan_deploy.cli import build_parser
from animegan_deploy.compress.distill import DistillConfig, DistillOptions
from animegan_deploy.compress.student import StudentConfig
from animegan_deploy.configs import config_from_args, option, with_defaults
from animegan_deploy.errors import UserError

SHARED = ("steps", "lr", "content", "hints", "sparsity", "checkpoint_every")


def test_each_command_keeps_its_defaults_with_one_help_text():
    distill, student = DistillConfig(), StudentConfig()
    assert [getattr(distill, n) for n in SHARED] == [600, 2e-4, 1.0, 0.0, 0.0, 50]
    assert [getattr(student, n) for n in SHARED] == [2000, 1e-3, 0.0, 1.0, 1e-5, 100]
    helps = {c: {f.name: f.metadata["help"] for f in fields(c)} for c in (DistillOptions, DistillConfig, StudentConfig)}
    for name in SHARED:
        assert helps[DistillConfig][name] == helps[StudentConfig][name] == helps[DistillOptions][name]
    # a redeclared option stays where its base declared it (the help lists it in the same place for both commands)
    order = [f.name for f in fields(StudentConfig)]
    assert order[: len(fields(DistillOptions))] == [f.name for f in fields(DistillOptions)]


def test_the_command_line_reaches_the_shared_options_of_both_commands():
    parser = build_parser()
    student = config_from_args(StudentConfig, parser.parse_args(["student", "--hints", "0.5", "--steps", "3"]))
    distill = config_from_args(DistillConfig, parser.parse_args(["distill", "width:0.25", "--hints", "0.5"]))
    assert (student.hints, student.steps, student.lr) == (0.5, 3, 1e-3)
    assert (distill.hints, distill.steps, distill.lr) == (0.5, 600, 2e-4)


def test_the_recipes_distillation_run_takes_the_students_values():
    student = StudentConfig(lr=3e-3, content=0.25, hints=2.0, checkpoint_every=7, crop=64, seed=5)
    run = student.distill_config("teacher.safetensors", steps=11, sparsity=1e-4)
    assert (run.lr, run.content, run.hints, run.checkpoint_every, run.crop, run.seed) == (3e-3, 0.25, 2.0, 7, 64, 5)
    assert (run.steps, run.sparsity, run.beta1, run.teacher) == (11, 1e-4, 0.9, "teacher.safetensors")


@pytest.mark.parametrize("config, flag", [(lambda: StudentConfig(lr=0), "--lr"),
                                          (lambda: DistillConfig(lr=-1), "--lr"),
                                          (lambda: StudentConfig(sparsity=-1e-5), "--sparsity"),
                                          (lambda: DistillConfig(checkpoint_every=0), "--checkpoint-every"),
                                          (lambda: StudentConfig(steps=-1), "--steps"),
                                          (lambda: DistillConfig(steps=0), "--steps")])
def test_shared_checks_apply_to_both_and_steps_keep_their_own(config, flag):
    with pytest.raises(UserError, match=flag):
        config()


def test_only_the_student_may_skip_distillation():
    assert StudentConfig(steps=0).steps == 0  # fine-tune or BatchNorm fit only
    with pytest.raises(UserError, match="--steps"):
        DistillConfig(steps=0)


def test_a_default_for_an_option_no_base_declares_is_refused():
    @dataclass
    class Base:
        size: int = option(1, "a size")

    with pytest.raises(TypeError, match="colour"):
        with_defaults(colour=2)(type("Child", (Base,), {}))

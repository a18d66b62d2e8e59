"""Training configs: TOML sections into typed dataclasses, overrides, presets, one-line errors."""

import pytest

from animegan_deploy.cli import main
from animegan_deploy.errors import UserError
from animegan_deploy.train.config import load_config


def test_toml_and_overrides_are_typed(tmp_path):
    path = tmp_path / "c.toml"
    path.write_text('[optim]\nbatch_size = 2\n[loss]\npreset = "paprika"\n')
    config = load_config(path, ["optim.gan_steps=7", "loss.gan=hinge", "run.amp=false", "loss.style=3"])
    assert config.optim.batch_size == 2 and config.optim.gan_steps == 7
    assert config.loss.gan == "hinge" and config.run.amp is False
    weights = config.loss.resolved()
    assert weights["color"] == 50.0 and weights["style"] == 3.0 and weights["d_smooth"] == 0.005


@pytest.mark.parametrize(
    "text, override, message",
    [
        ("[optim]\nbatch_sise = 2\n", None, "unknown key 'batch_sise'"),
        ("[optimizer]\n", None, "unknown section [optimizer]"),
        ("[optim\n", None, "invalid TOML"),
        ("", "optim.batch_size=two", "'two' is not a valid int"),
        ("", "loss.gan=wgan", "not one of lsgan, hinge"),
        ("", "batch_size=2", "use section.key=value"),
    ],
)
def test_mistakes_are_one_line_user_errors(tmp_path, text, override, message):
    path = tmp_path / "c.toml"
    path.write_text(text)
    with pytest.raises(UserError, match=message.replace("[", r"\[").replace("]", r"\]")):
        load_config(path, [override] if override else [])


def test_cli_missing_config_exits_2(tmp_path, capsys):
    assert main(["train", "--config", str(tmp_path / "none.toml")]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "none.toml: no such file" in err

"""The generator's state_dict is exactly the public AnimeGANv2 checkpoint format."""

from animegan_deploy.models import ChannelPlan, Generator, count_parameters


def test_width_one_has_exactly_the_public_keys_and_shapes(public_format):
    state = Generator().state_dict()
    expected = {k: tuple(v) for k, v in public_format["tensors"].items()}
    assert len(state) == public_format["num_tensors"] == 77
    assert list(state) == list(expected)  # same names, same order as torch.save wrote them
    assert {k: tuple(v.shape) for k, v in state.items()} == expected


def test_parameter_count_matches_the_public_checkpoint(public_format):
    model = Generator()
    assert count_parameters(model) == public_format["num_parameters"] == 2_143_552


def test_channel_plan_is_read_back_from_public_shapes(public_format):
    import torch

    fake = {k: torch.empty(v) for k, v in public_format["tensors"].items()}
    assert ChannelPlan.from_state_dict(fake) == ChannelPlan()


def test_only_first_inverted_block_lacks_residual():
    model = Generator()
    flags = [block.use_res_connect for block in list(model.block_c)[1:5]]
    assert flags == [False, True, True, True]

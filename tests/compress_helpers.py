"""Tiny generators with chosen channels zeroed or shrunk, for the compression tests."""

import torch

from conftest import randomized_generator


def zero_channel(model, layer: str, index: int) -> None:
    """Zero one channel of a plain conv-norm layer (filter, scale and shift): it then carries nothing."""
    blocks = {"a0": model.block_a[0], "e0": model.block_e[0], "d1": model.block_d[1], "c5": model.block_c[5]}
    block = blocks[layer]
    with torch.no_grad():
        block[1].weight[index] = 0
        block[2].weight[index] = 0
        block[2].bias[index] = 0


def zero_hidden(model, block_index: int, index: int) -> None:
    layers = model.block_c[block_index].layers
    with torch.no_grad():
        layers[0][1].weight[index] = 0
        layers[0][2].weight[index] = 0
        layers[0][2].bias[index] = 0
        layers[1][1].weight[index] = 0
        layers[1][1].bias[index] = 0
        layers[1][2].weight[index] = 0
        layers[1][2].bias[index] = 0


def zero_trunk(model, index: int) -> None:
    with torch.no_grad():
        for i in range(1, 5):
            layers = model.block_c[i].layers
            layers[2].weight[index] = 0
            layers[3].weight[index] = 0
            layers[3].bias[index] = 0


def model_with_zeroed_channels():
    model = randomized_generator()
    zero_channel(model, "a0", 1)
    zero_channel(model, "e0", 3)
    zero_channel(model, "e0", 9)
    zero_hidden(model, 2, 5)
    zero_trunk(model, 7)
    return model, {"a0": 1, "e0": 2, "c2_hidden": 1, "trunk": 1}

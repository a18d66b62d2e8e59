"""A conv kept float by the TFLite fallback takes the pads/resizes that feed it along (FloatGraph.with_inputs):
otherwise its input is still rounded and clipped to an int8 range on the way in, which is where a dark, flat
photo's outliers are lost."""

from animegan_deploy.export.tflite_int8 import FloatGraph  # pure Python: no TensorFlow needed to walk a parsed graph


def _graph() -> FloatGraph:
    # input 0 -> pad -> conv A -> leaky (float already) -> resize -> pad -> conv B -> add(+ input) -> transpose
    #   -> conv C (fed straight by the add's transpose)
    ops = [
        ("MIRROR_PAD", [0, 20], [1]),
        ("CONV_2D", [1, 21, 22], [2]),
        ("LEAKY_RELU", [2], [3]),
        ("RESIZE_BILINEAR", [3, 23], [4]),
        ("MIRROR_PAD", [4, 20], [5]),
        ("CONV_2D", [5, 21, 22], [6]),
        ("ADD", [6, 0], [7]),
        ("TRANSPOSE", [7, 24], [8]),
        ("CONV_2D", [8, 21, 22], [9]),
    ]
    names = [f"t{i}" for i in range(25)]
    return FloatGraph(ops, names, {0})


def test_a_float_conv_brings_its_pad_and_resize_back_to_the_op_that_computed_them():
    g = _graph()
    assert g.with_inputs(["t6"]) == ["t6", "t5", "t4"]  # conv B: its pad and the resize before it, not the leaky
    assert g.with_inputs(["t2"]) == ["t2", "t1"]  # conv A: the pad on the model's input
    assert g.with_inputs(["t9"]) == ["t9", "t8"]  # conv C: the transpose, not the add that computed its values


def test_the_chain_stops_at_a_node_already_float_and_other_ops_are_left_alone():
    g = _graph()
    assert g.with_inputs(["t4", "t6"]) == ["t4", "t6", "t5"]  # the resize is already there: no duplicate
    assert g.with_inputs(["t3", "t7"]) == ["t3", "t7"]  # not convs: nothing added
    assert g.with_inputs([]) == []

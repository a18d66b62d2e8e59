"""What the TFLite tests read back from a written file's flatbuffer."""

from __future__ import annotations


def conv_tensor_types(model: bytes) -> dict[str, tuple[str, str]]:
    """Each conv (by output tensor name, in graph order) -> (its input's type, its weights' type), e.g.
    ("FLOAT32", "INT8") for a dynamic-range conv."""
    from tensorflow.lite.python import schema_py_generated as schema

    type_names = {v: k for k, v in vars(schema.TensorType).items() if not k.startswith("_")}
    conv_codes = {schema.BuiltinOperator.CONV_2D, schema.BuiltinOperator.DEPTHWISE_CONV_2D}
    tree = schema.Model.GetRootAsModel(model, 0)
    graph = tree.Subgraphs(0)
    types = {}
    for i in range(graph.OperatorsLength()):
        op = graph.Operators(i)
        code = tree.OperatorCodes(op.OpcodeIndex())
        if max(code.BuiltinCode(), code.DeprecatedBuiltinCode()) in conv_codes:
            types[graph.Tensors(op.Outputs(0)).Name().decode()] = (
                type_names[graph.Tensors(op.Inputs(0)).Type()], type_names[graph.Tensors(op.Inputs(1)).Type()])
    return types

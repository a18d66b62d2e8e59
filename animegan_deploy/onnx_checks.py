"""What an ONNX file must look like to be a generator this project can run or quantize: one image input
(N x 3 x H x W), one image output, convolutions inside. Anything else is a one-line error naming the file."""

from __future__ import annotations

from pathlib import Path

from .errors import UserError


def _dims(value_info) -> list:
    return [d.dim_value if d.HasField("dim_value") else (d.dim_param or "?") for d in
            value_info.type.tensor_type.shape.dim]


def check_generator_graph(model, label: str | Path, need_conv: bool = True) -> None:
    """``model`` (onnx.ModelProto) is image -> image with convolutions, else UserError."""
    initializers = {i.name for i in model.graph.initializer}
    inputs = [i for i in model.graph.input if i.name not in initializers]
    if len(inputs) != 1 or len(model.graph.output) != 1:
        raise UserError(f"{label}: the graph has {len(inputs)} input(s) and {len(model.graph.output)} output(s); a "
                        "generator has one image input and one image output (export it with `animegan export onnx`)")
    for kind, info in (("input", inputs[0]), ("output", model.graph.output[0])):
        dims = _dims(info)
        if len(dims) != 4 or (isinstance(dims[1], int) and dims[1] not in (0, 3)):
            raise UserError(f"{label}: its {kind} {info.name!r} has shape {dims}; a generator takes and returns "
                            "N x 3 x H x W images (export it with `animegan export onnx`)")
    if need_conv and not any(n.op_type in ("Conv", "QLinearConv", "ConvInteger") for n in model.graph.node):
        raise UserError(f"{label}: the graph has no convolution, so it is not a generator; pass the file from "
                        "`animegan export onnx`")


def load_generator_onnx(path: str | Path):
    """onnx.load with a one-line error for a missing, truncated or foreign file, then the graph check."""
    import onnx

    path = Path(path)
    if not path.is_file():
        raise UserError(f"{path}: no such file; export one with `animegan export onnx`")
    try:
        model = onnx.load(str(path))
    except Exception as exc:  # protobuf DecodeError and friends for truncated or foreign files
        raise UserError(f"{path}: not a readable ONNX file ({type(exc).__name__}); it may be truncated, export it "
                        "again with `animegan export onnx`") from None
    check_generator_graph(model, path)
    return model

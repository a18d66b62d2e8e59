"""The staged pipeline: one TOML config takes a generator through train, prune, distill, quantize, export,
benchmark and gate, each stage cached by the hash of its inputs and config, with one report."""

"""How many CPU threads the runtimes take when a command is not given ``--threads``.

``ANIMEGAN_THREADS=N`` caps ONNX Runtime, LiteRT and torch at N threads in this process and the helper processes it
starts. Unset, each runtime keeps its own default (ONNX Runtime and torch: every core; LiteRT: 2). Jobs run side by
side on one machine (a test suite split over workers, several exports at once) want a share each: runtimes that all
take every core spin against each other and finish later than one job after the other.
"""

from __future__ import annotations

import os

from animegan_deploy.errors import UserError

ENV = "ANIMEGAN_THREADS"


def default_threads() -> int | None:
    """The thread count ``ANIMEGAN_THREADS`` sets, or None (each runtime's own default)."""
    value = os.environ.get(ENV, "").strip()
    if not value:
        return None
    try:
        count = int(value)
    except ValueError:
        count = 0
    if count < 1:
        raise UserError(f"{ENV}={value!r}: must be a whole number of threads >= 1; unset it to let each runtime "
                        "choose")
    return count


def cpu_threads(threads: int | None) -> int | None:
    """``threads`` when a caller gave it, else the process default (None: the runtime's own)."""
    return threads or default_threads()


def ort_session_options(threads: int | None = None):
    """ONNX Runtime session options at ``threads`` (else ``ANIMEGAN_THREADS``, else ONNX Runtime's own: every
    core); one inter-op thread (sessions run their graph sequentially); intra-op threads that wait instead of spin.

    This project's processes run several sessions in turn (the benchmark's round-robin, a quantized file checked
    against its FP32 one), and a session whose idle threads spin keeps the cores from the next: round-robin over
    four sessions of the width-0.25 student, each run took 2.3x as long with spinning on (68-73 ms for the FP32
    file that takes 28-30 ms alone), and the same file timed 46.8 and 69.8 ms in one benchmark run. One session
    alone ran within 1-4% either way (AMD EPYC Zen 4, 2 threads, 2026-12-05)."""
    import onnxruntime as ort

    options = ort.SessionOptions()
    options.add_session_config_entry("session.intra_op.allow_spinning", "0")
    threads = cpu_threads(threads)
    if threads:
        options.intra_op_num_threads = threads
        options.inter_op_num_threads = 1
    return options


def apply_to_runtimes() -> None:
    """Cap torch's intra-op threads, and TensorFlow's in the converters this process starts, at
    ``ANIMEGAN_THREADS`` where it is set (both read their own settings once, when they start)."""
    count = default_threads()
    if count is not None:
        import torch

        torch.set_num_threads(count)
        os.environ.setdefault("TF_NUM_INTRAOP_THREADS", str(count))
        os.environ.setdefault("TF_NUM_INTEROP_THREADS", "1")

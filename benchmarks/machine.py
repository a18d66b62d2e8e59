"""What the numbers were measured on: CPU model, cores, SIMD flags, ISA-based FP32 and INT8 peaks, library versions,
git commit. Written into every benchmark JSON so runs from different machines are never mixed up silently."""

from __future__ import annotations

import importlib.metadata
import os
import platform
from pathlib import Path

from animegan_deploy.sidecar import git_commit

# SIMD flags that decide CPU inference speed (FP32 width, FMA, INT8 dot products, FP16/BF16)
# CPU instructions that give int8 convolutions their speed over FP32 (best first); without one (plain AVX2) an
# int8 multiply-add takes two instructions and INT8 gains little over FP32
INT8_DOT_FLAGS = (("amx_int8", "AMX-INT8"), ("avx512_vnni", "AVX-512 VNNI"), ("avx_vnni", "AVX-VNNI"),
                  ("asimddp", "Arm dot product (sdot)"))
INTERESTING_FLAGS = ("sse4_2", "avx", "avx2", "fma", "f16c", "avx512f", "avx512bw", "avx512_vnni", "avx_vnni",
                     "avx512_bf16", "amx_tile", "amx_int8", "asimd", "asimddp", "fphp", "sve")
LIBRARIES = ("torch", "onnxruntime", "onnx", "numpy", "ai-edge-litert", "tensorflow-cpu", "onnx2tf", "tensorrt")


def _cpuinfo() -> dict[str, str]:
    info: dict[str, str] = {}
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            key, _, value = line.partition(":")
            info.setdefault(key.strip(), value.strip())
    except OSError:
        pass
    return info


def fp32_flops_per_cycle(flags: set[str]) -> int:
    """FP32 FLOPs one core can retire per cycle from its widest FMA unit (2 FMA pipes assumed)."""
    if "avx512f" in flags:
        return 64  # 2 x 16 lanes x (mul + add)
    if "avx2" in flags and "fma" in flags:
        return 32  # 2 x 8 lanes x 2
    if "asimd" in flags:
        return 16  # 2 x 4 lanes x 2 (NEON)
    return 8


def int8_ops_per_cycle(flags: set[str]) -> int:
    """INT8 multiply-add operations (2 per MAC) one core can retire per cycle with the best int8 instructions it
    has: AMX tiles 1024 MACs, AVX-512 VNNI 2 x 64, AVX-VNNI 2 x 32, AVX-512BW without VNNI 2 x 32 (vpmaddubsw +
    vpmaddwd: two instructions per MAC), AVX2 2 x 16, Arm sdot 2 x 16, plain NEON 2 x 8."""
    if "amx_int8" in flags:
        return 2048
    if "avx512_vnni" in flags:
        return 256
    if "avx_vnni" in flags or "avx512bw" in flags:
        return 128
    if "avx2" in flags or "asimddp" in flags:
        return 64
    if "asimd" in flags:
        return 32
    return 16


def int8_dot_product(flags: set[str]) -> str | None:
    """The CPU's int8 dot-product instructions (AMX, VNNI, sdot), or None."""
    found = [name for flag, name in INT8_DOT_FLAGS if flag in flags]
    return ", ".join(found) if found else None


def machine_info() -> dict:
    cpu = _cpuinfo()
    flags = set((cpu.get("flags") or cpu.get("Features") or "").split())
    cores = os.cpu_count() or 1
    try:
        import psutil

        physical = psutil.cpu_count(logical=False)
        freq = psutil.cpu_freq()
        mhz = (freq.max or freq.current) if freq else None
    except Exception:  # psutil is a dependency, but this must never break a benchmark
        physical, mhz = None, None
    if not mhz and cpu.get("cpu MHz"):
        mhz = float(cpu["cpu MHz"])
    per_cycle = fp32_flops_per_cycle(flags)
    peak = cores * (mhz or 0) / 1e3 * per_cycle
    int8_per_cycle = int8_ops_per_cycle(flags)
    int8_peak = cores * (mhz or 0) / 1e3 * int8_per_cycle
    versions = {}
    for lib in LIBRARIES:
        try:
            versions[lib] = importlib.metadata.version(lib)
        except importlib.metadata.PackageNotFoundError:
            versions[lib] = None
    return {
        "cpu": cpu.get("model name") or platform.processor() or platform.machine(),
        "machine": platform.machine(),
        "logical_cores": cores,
        "physical_cores": physical,
        "mhz": round(mhz, 1) if mhz else None,
        "flags": sorted(flags & set(INTERESTING_FLAGS)),
        "int8_dot_product": int8_dot_product(flags),
        "fp32_flops_per_cycle_per_core": per_cycle,
        "peak_fp32_gflops": round(peak, 1) if peak else None,
        "int8_ops_per_cycle_per_core": int8_per_cycle,
        "peak_int8_gops": round(int8_peak, 1) if int8_peak else None,
        "peak_note": "ISA estimate: logical cores x clock x FP32 FLOPs (INT8 ops) per cycle (2 pipes); SMT siblings share "
                     "pipes, so the real peak can be lower",
        "os": f"{platform.system()} {platform.release()}",
        "python": platform.python_version(),
        "libraries": versions,
        "git_commit": git_commit(),
    }

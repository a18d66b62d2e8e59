"""animegan-deploy: train, compress, quantize, export and benchmark AnimeGANv2-style generators.

The source tree keeps the user's layout (``models/``, ``compress/``, ``export/``, ``benchmarks/`` at the
repository root); pyproject.toml installs those folders as subpackages of this package.
"""

# part of every cache key (pipeline stages, the benchmark's reuse of built files): raised when what the same settings
# build changes. 0.2.0: each INT8 placement's default validation target (files built by 0.1.0 had none)
__version__ = "0.2.0"

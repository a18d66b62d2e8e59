"""animegan-deploy: train, compress, quantize, export and benchmark AnimeGANv2-style generators.

The source tree keeps the user's layout (``models/``, ``compress/``, ``export/``, ``benchmarks/`` at the
repository root); pyproject.toml installs those folders as subpackages of this package.
"""

__version__ = "0.1.0"

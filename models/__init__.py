"""AnimeGANv2 generator family and its checkpoints (public ``.pt`` and the project's safetensors)."""

from .generator import ChannelPlan, Generator, count_parameters
from .norms import ExplicitGroupNorm, convert_norms

__all__ = ["ChannelPlan", "ExplicitGroupNorm", "Generator", "convert_norms", "count_parameters"]

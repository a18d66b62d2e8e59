"""--target-gmacs: the student is narrowed to the widest width whose cost meets the target."""

import pytest

from animegan_deploy.benchmarks.cost import gmacs
from animegan_deploy.compress.prune import prune_model
from animegan_deploy.compress.student import keep_ratio_for
from animegan_deploy.errors import UserError
from animegan_deploy.models import Generator


def test_target_gmacs_picks_the_widest_ratio_that_fits():
    teacher = Generator(width=0.5, norm="batch")
    full = gmacs(teacher, 64)
    ratio = keep_ratio_for(teacher, full / 4, size=64)
    assert 0.4 < ratio < 0.6  # cost grows with width squared: a quarter of the MACs is about half the channels
    narrowed = prune_model(teacher, threshold=0.0, keep_ratio=ratio).model
    cost = gmacs(narrowed, 64)
    assert cost <= full / 4 and cost > 0.85 * full / 4
    assert keep_ratio_for(teacher, full * 2, size=64) == 1.0
    with pytest.raises(UserError, match="target-gmacs"):
        keep_ratio_for(teacher, 1e-9, size=64)

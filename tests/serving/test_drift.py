"""The sliding-window drift ratio."""

import pytest

from rps_kedro.serving.drift import DriftWindow


def test_the_ratio_is_the_mean_share_of_the_last_requests():
    window = DriftWindow(size=4)
    assert window.ratio == 0.0
    assert window.add(0.5) == 0.5
    for share in (0.0, 0.0, 0.5):
        window.add(share)
    assert window.ratio == pytest.approx(0.25)
    for _ in range(4):
        window.add(1.0)
    assert window.ratio == pytest.approx(1.0) and len(window) == 4


def test_rounding_does_not_build_up_over_many_requests():
    window = DriftWindow(size=3)
    for i in range(10_000):
        window.add((i % 7) / 7 + 1e-17)
    for _ in range(3):
        window.add(0.0)
    assert window.ratio == 0.0


def test_the_window_needs_a_size():
    with pytest.raises(ValueError, match="at least one"):
        DriftWindow(size=0)

"""The uniform row sample of symbols read one at a time."""

import numpy as np
import pandas as pd
import pytest

from rps_kedro.core.sampling import UniformRowSample, rows_by_symbol


def frames(count: int, rows: int) -> list[pd.DataFrame]:
    """`count` frames of `rows` numbered rows each (column `row`: the row's global number)."""
    return [pd.DataFrame({"row": np.arange(i * rows, (i + 1) * rows)}) for i in range(count)]


class HeldRows(UniformRowSample):
    """Records the most rows it ever held."""

    most_held = 0

    def offer(self, rows):
        super().offer(rows)
        self.most_held = max(self.most_held, sum(map(len, self.parts)))


def test_sample_has_the_size_in_offered_order_and_is_seeded():
    sample = UniformRowSample(500, seed=3)
    for frame in frames(40, 1000):
        sample.offer(frame)
    rows = sample.rows()["row"]
    assert len(rows) == 500 and rows.is_unique and rows.is_monotonic_increasing
    assert sample.offered == 40_000
    again = UniformRowSample(500, seed=3)
    for frame in frames(40, 1000):
        again.offer(frame)
    assert again.rows()["row"].equals(rows)
    other = UniformRowSample(500, seed=4)
    for frame in frames(40, 1000):
        other.offer(frame)
    assert not other.rows()["row"].equals(rows)


def test_sample_is_uniform_over_frames_and_holds_a_bounded_number_of_rows():
    sample = HeldRows(2000, seed=0)
    for frame in frames(100, 1000):
        sample.offer(frame)
    per_frame = sample.rows()["row"] // 1000
    counts = np.bincount(per_frame, minlength=100)
    # 20 expected per frame: a binomial's spread, not the first frames' rows
    assert counts.min() >= 5 and counts.max() <= 40
    assert abs(per_frame.mean() - 49.5) < 3
    assert sample.most_held <= 2 * 2000 + 1000, "never more than twice the size plus one frame"


def test_fewer_rows_than_the_size_or_no_size_keep_every_row():
    for size in (10_000, None):
        sample = UniformRowSample(size, seed=0)
        for frame in frames(3, 100):
            sample.offer(frame)
        assert sample.rows()["row"].tolist() == list(range(300))


def test_a_frames_symbols_become_loaders_in_symbol_order():
    frame = pd.DataFrame({"symbol": ["b", "a", "b", "a"], "value": [1, 2, 3, 4]})
    parts = rows_by_symbol(frame)
    assert list(parts) == ["a", "b"]
    assert parts["b"]()["value"].tolist() == [1, 3]
    loaders = {"x": lambda: frame}
    assert rows_by_symbol(loaders) is loaders


@pytest.mark.parametrize("size", [1, 7])
def test_tiny_samples(size):
    sample = UniformRowSample(size, seed=1)
    for frame in frames(5, 3):
        sample.offer(frame)
    assert len(sample.rows()) == size

"""The model's and the Bento's packages come from pyproject extras, pinned to what is installed."""

from __future__ import annotations

from importlib.metadata import version

import pytest

from rps_kedro.requirements import extra_packages, pinned


@pytest.mark.parametrize("extra", ["model", "bento"])
def test_an_extra_is_pinned_to_the_installed_versions(extra):
    names = extra_packages(extra)

    assert "pandas" in names
    assert pinned(extra) == [f"{name}=={version(name)}" for name in names]


def test_an_unknown_extra_is_an_error():
    with pytest.raises(LookupError, match="no extra 'nope'"):
        extra_packages("nope")

"""lab up's options that only one provider takes are refused by the others, in one sentence."""

from __future__ import annotations

import pytest


@pytest.mark.parametrize("name", ["netns", "docker"])
def test_chassis_per_host_is_refused_where_every_chassis_is_local(name: str) -> None:
    from lab import providers
    from lab.errors import UserError
    from lab.providers.base import UpOptions

    with pytest.raises(UserError, match="--chassis-per-host places chassis on SSH hosts"):
        providers.get(name).refuse_host_placement(UpOptions(chassis_per_host=4))  # type: ignore[attr-defined]

"""The `rendered` fixture: the chart rendered for the default values and every ci/*-values.yaml scenario."""

from __future__ import annotations

import pytest

from tests.charts.chart import SCENARIOS, Rendered, scenario


@pytest.fixture(scope="module", params=SCENARIOS)
def rendered(request: pytest.FixtureRequest) -> Rendered:
    return scenario(request.param)

"""`flash_duo.start_server(app, **options)` validates Dash's dev-tools options against Dash's own
`enable_dev_tools` (Flash's override takes `*args, **kwargs`, which names none of them)."""

from __future__ import annotations

import pytest

from flash import Flash
from flash.testing.serve import ServePlan


def test_dashs_dev_tools_options_are_accepted_on_a_flash_app():
    plan = ServePlan.from_kwargs(Flash(__name__), debug=True, dev_tools_hot_reload=False, dev_tools_ui=True)
    assert plan.debug is True and plan.dev_tools == {"dev_tools_hot_reload": False, "dev_tools_ui": True}


def test_an_unknown_dev_tools_option_is_refused_naming_it():
    with pytest.raises(TypeError, match="dev_tools_nope"):
        ServePlan.from_kwargs(Flash(__name__), dev_tools_nope=True)

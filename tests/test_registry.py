"""harness.registry: the one registry methods and targets share."""

from typing import NamedTuple

import pytest

from harness import UsageError, methods, targets
from harness.registry import Registry


class Thing(NamedTuple):
    name: str


def test_items_come_back_by_name_sorted_names_and_registration_order():
    reg = Registry("thing")
    b, a = reg.register(Thing("b")), reg.register(Thing("a"))
    assert reg.get("a") is a and reg.names() == ["a", "b"] and reg.values() == [b, a]


def test_a_taken_name_and_an_unknown_name_say_what_is_wrong():
    reg = Registry("target", asked_as="model")
    reg.register(Thing("a"))
    with pytest.raises(ValueError, match="target 'a' is already registered"):
        reg.register(Thing("a"))
    with pytest.raises(UsageError, match=r"^unknown model 'z'; valid: a$"):
        reg.get("z")


def test_methods_and_targets_use_it():
    assert methods.registered() == methods.REGISTRY.values() and methods.names() == methods.REGISTRY.names()
    assert targets.names() == targets.REGISTRY.names()
    with pytest.raises(UsageError, match="^unknown method 'nope'; valid: blackjax_chees, "):
        methods.get("nope")
    with pytest.raises(UsageError, match="^unknown model 'nope'; valid: "):
        targets.get("nope")

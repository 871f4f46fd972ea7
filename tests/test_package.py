"""The lazy top-level namespace of ``sk_crnn`` (PEP 562 ``__getattr__``)."""

import pytest

import sk_crnn


def test_public_names_and_star_import():
    namespace = {}
    exec("from sk_crnn import *", namespace)  # noqa: S102 - the statement under test
    assert set(sk_crnn.__all__) <= set(namespace)
    assert namespace["CRNNClassifier"].__module__ == "sk_crnn.classifier"  # one module per task
    assert set(sk_crnn.__all__) <= set(dir(sk_crnn))
    assert sk_crnn.metrics.__name__ == "sk_crnn.metrics"  # a submodule, imported on use


@pytest.mark.parametrize("name", ["no_such_name", "no_such.module", "cli.no_such", ""])
def test_unknown_attributes_are_attribute_errors(name):
    # getattr's contract: hasattr() is False and getattr(..., default) gives the default,
    # also for a dotted name, which is never a submodule attribute.
    assert not hasattr(sk_crnn, name)
    assert getattr(sk_crnn, name, "default") == "default"

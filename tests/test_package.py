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


#: Names published by a module other than the one defining them (their documented path).
REEXPORTED = {
    "datasets": {"load_audio_folder"},  # defined in sk_crnn.io._folders
    "metrics": {"precision_at_k", "mean_average_precision", "retrieval_scorer", "psds",
                "psds_scorer", "collar_f1"},  # private modules, one public path
    "transcription": {"read_manifest"},  # defined in sk_crnn.io._manifests
}


def _public_modules():
    import pkgutil

    return sorted(m.name for m in pkgutil.iter_modules(sk_crnn.__path__)
                  if not m.name.startswith("_") and m.name != "estimators")


@pytest.mark.parametrize("name", _public_modules())
def test_each_public_module_lists_its_own_names(name):
    """One public path per function: each public module says what it publishes in
    ``__all__``, and publishes only what it defines (or the documented re-exports)."""
    import importlib
    import inspect

    module = importlib.import_module(f"sk_crnn.{name}")
    assert hasattr(module, "__all__"), f"sk_crnn.{name} has no __all__"
    for public in module.__all__:
        value = getattr(module, public)
        if inspect.isclass(value) or inspect.isfunction(value):
            home = value.__module__
            own = home == module.__name__ or home.startswith(module.__name__ + ".")  # packages
            assert own or public in REEXPORTED.get(name, ()), (
                f"sk_crnn.{name}.{public} is defined in {home}")


def test_the_former_estimators_module_publishes_nothing():
    from sk_crnn import estimators

    assert estimators.__all__ == []
    assert estimators.CRNNClassifier is sk_crnn.CRNNClassifier  # pickles that name it load

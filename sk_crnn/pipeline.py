"""A scikit-learn Pipeline that also trains epoch by epoch: ``partial_fit`` on raw waveforms.

scikit-learn's ``Pipeline`` has no ``partial_fit``, so tools that train a model a little at a
time and stop the poor ones early (Optuna's ``OptunaSearchCV(enable_pruning=True)``,
dask-ml's ``HyperbandSearchCV`` and ``IncrementalSearchCV``) cannot drive a pipeline of
:class:`~sk_crnn.MelSpectrogramTransformer` and a CRNN estimator, and the estimators alone
take spectrograms, not the waveforms those tools hold. :class:`CRNNPipeline` is a
``Pipeline`` with that one method more.
"""

from sklearn import get_config
from sklearn.pipeline import Pipeline
from sklearn.pipeline import make_pipeline as _sklearn_make_pipeline
from sklearn.utils.metaestimators import available_if

__all__ = ["CRNNPipeline", "make_pipeline"]


def _final_estimator_has_partial_fit(pipeline):
    final = pipeline._final_estimator
    if not hasattr(final, "partial_fit"):
        raise AttributeError(
            f"This {type(pipeline).__name__} has no partial_fit: its last step "
            f"({type(final).__name__}) has none.")
    return True


def _is_passthrough(step):
    return step is None or (isinstance(step, str) and step == "passthrough")


class CRNNPipeline(Pipeline):
    """A scikit-learn ``Pipeline`` that also trains epoch by epoch with ``partial_fit``.

    ``partial_fit`` fits the front end (the steps before the last) on its first call only,
    then trains the final estimator ``max_epochs`` more epochs per call. Everything else is
    scikit-learn's :class:`~sklearn.pipeline.Pipeline` (same parameters, ``clone``,
    ``get_params``/``set_params``, slicing, search, ``joblib``), and
    :func:`sk_crnn.save`/:func:`sk_crnn.load` store it like a Pipeline. Build one with
    :func:`make_pipeline` (steps named after their classes) or as ``CRNNPipeline(steps)``.

    Parameters
    ----------
    steps : list of (str, estimator) tuples
        The transformers, then the final estimator, as in ``Pipeline``.
    transform_input : list of str or None, default=None
        As in ``Pipeline`` (metadata routing only); ``partial_fit`` does not use it.
    memory : str, object with the joblib.Memory interface or None, default=None
        As in ``Pipeline``: caches the transformers fitted by ``fit``. ``partial_fit`` fits
        them in place, without the cache. :func:`sk_crnn.save` stores only ``memory=None``.
    verbose : bool, default=False
        As in ``Pipeline``: timing of each step of ``fit``.

    Attributes
    ----------
    named_steps : Bunch
        The steps by name, as in ``Pipeline``.

    See Also
    --------
    make_pipeline : Build one with steps named after their classes.
    sk_crnn.chunked.fit_in_chunks : Train from file paths one chunk at a time.

    Examples
    --------
    >>> import numpy as np
    >>> from sk_crnn import CRNNClassifier, MelSpectrogramTransformer, make_pipeline
    >>> from sk_crnn.datasets import make_tone_clips
    >>> X, y = make_tone_clips(24, sr=8000, duration=0.25, random_state=0)
    >>> pipe = make_pipeline(
    ...     MelSpectrogramTransformer(sr=8000, n_fft=256, n_mels=16),
    ...     CRNNClassifier(max_epochs=1, module__conv_channels=(4,), module__rnn_hidden=4,
    ...                    random_state=0))
    >>> for epoch in range(3):
    ...     pipe = pipe.partial_fit(X, y, classes=[0, 1])
    >>> len(pipe[-1].history)
    3
    """

    @available_if(_final_estimator_has_partial_fit)
    def partial_fit(self, X, y=None, classes=None, **params):
        """Fit the front end on the first call, then train the final estimator on ``X``.

        The first call (while the pipeline is not fitted: its final estimator is not)
        fits the transformers, all steps but the last, on ``X`` as ``fit`` would; later
        calls only transform ``X`` with them, so every chunk reaches the network in the
        shape it learned (a :class:`~sk_crnn.MelSpectrogramTransformer` keeps the clip length
        of the first chunk). Then the final estimator's ``partial_fit`` runs on the
        features: an sk_crnn estimator trains ``max_epochs`` more epochs, so with
        ``max_epochs=1`` each call is one epoch. After ``fit``, ``partial_fit`` continues
        the fitted pipeline.

        Parameters
        ----------
        X : array-like of shape (n_clips, n_samples) or list of n_clips 1-D arrays
            What the first step takes: raw waveforms for a pipeline starting with the
            transformer (file paths for one starting with ``AudioLoader``). Any number of
            clips per call.
        y : array-like of shape (n_clips,) or (n_clips, n_outputs), default=None
            Targets of the clips.
        classes : array-like of shape (n_classes,) or None, default=None
            Every label any call may see, passed to the final estimator's ``partial_fit``
            (as in scikit-learn); needed on the first call when its clips lack some class.
            Not passed when None (a regressor takes none).
        **params : dict
            ``<step>__<parameter>`` keys, as in ``Pipeline.fit`` without metadata routing:
            those of the last step go to its ``partial_fit`` on every call (e.g.
            ``crnnclassifier__sample_weight``); those of the transformers to their ``fit``
            on the call that fits them, ignored afterwards.

        Returns
        -------
        self : CRNNPipeline
            The pipeline, trained further.
        """
        front, last = self._split_params(params)
        if not self.__sklearn_is_fitted__():
            self.steps = list(self.steps)
            self._validate_steps()
            Xt = self._fit_front_end(X, y, front)
        else:
            Xt = X
            for _, step in self.steps[:-1]:
                if not _is_passthrough(step):
                    Xt = step.transform(Xt)
        if classes is not None:
            last["classes"] = classes
        self._final_estimator.partial_fit(Xt, y, **last)
        return self

    def _fit_front_end(self, X, y, params):
        Xt = X
        for name, step in self.steps[:-1]:
            if _is_passthrough(step):
                continue
            step_params = params.get(name, {})
            if hasattr(step, "fit_transform"):
                Xt = step.fit_transform(Xt, y, **step_params)
            else:
                Xt = step.fit(Xt, y, **step_params).transform(Xt)
        return Xt

    def _split_params(self, params):
        """``{"<step>__<param>": value}`` -> (params of each transformer, of the last step)."""
        names = [name for name, _ in self.steps]
        front = {}
        for key, value in params.items():
            step, sep, param = key.partition("__")
            if not sep or step not in names:
                hint = (" partial_fit routes no metadata (set_partial_fit_request);"
                        if get_config().get("enable_metadata_routing") else "")
                raise ValueError(
                    f"{type(self).__name__}.partial_fit got the parameter {key!r}, which "
                    f"names no step.{hint} Pass parameters as <step>__<parameter> with a step "
                    f"of {names}, e.g. {names[-1]}__sample_weight=w.")
            front.setdefault(step, {})[param] = value
        return front, front.pop(names[-1], {})


def make_pipeline(*steps, memory=None, verbose=False):
    """Build a :class:`CRNNPipeline`, naming the steps after their classes.

    scikit-learn's :func:`~sklearn.pipeline.make_pipeline`, returning the Pipeline subclass
    with ``partial_fit``: ``make_pipeline(MelSpectrogramTransformer(...),
    CRNNClassifier(...))`` has the steps ``melspectrogramtransformer`` and
    ``crnnclassifier``, as scikit-learn's does.

    Parameters
    ----------
    *steps : estimators
        The transformers, then the final estimator.
    memory : str, object with the joblib.Memory interface or None, default=None
        Cache of the transformers fitted by ``fit``, as in scikit-learn.
    verbose : bool, default=False
        Print the time each step of ``fit`` takes.

    Returns
    -------
    pipeline : CRNNPipeline
        The unfitted pipeline.

    See Also
    --------
    CRNNPipeline : What the pipeline adds to scikit-learn's.

    Examples
    --------
    >>> from sk_crnn import CRNNClassifier, MelSpectrogramTransformer, make_pipeline
    >>> pipe = make_pipeline(MelSpectrogramTransformer(), CRNNClassifier())
    >>> [name for name, _ in pipe.steps]
    ['melspectrogramtransformer', 'crnnclassifier']
    """
    named = _sklearn_make_pipeline(*steps, memory=memory, verbose=verbose)
    return CRNNPipeline(named.steps, memory=memory, verbose=verbose)

"""DataFrames in and out: a column of audio arrays as X (pandas, polars), and ``set_output``
for the CRNN estimators' embeddings."""

import numpy as np
import pytest
import sklearn
from sklearn.base import clone
from sklearn.model_selection import GridSearchCV, KFold, cross_val_score
from sklearn.pipeline import make_pipeline
from sklearn.utils import estimator_checks
from test_common import _SMALL, RowsCRNNClassifier, RowsCRNNEmbedder
from test_persistence_fuzz import rewrite

import sk_crnn
from sk_crnn import (
    CRNNClassifier,
    CRNNEmbedder,
    CRNNEventDetector,
    CRNNTranscriber,
    MelSpectrogramTransformer,
)
from sk_crnn.persistence import ModelFileError

SR = 8000


def mel():
    return MelSpectrogramTransformer(sr=SR, n_fft=64, hop_length=32, n_mels=8)


def clips(n=12, equal=False, seed=0):
    """``n`` float32 clips of 400-600 samples (all 500 with ``equal``) and 0/1 labels: a
    louder noise for class 1, which even one epoch can tell apart."""
    rng = np.random.RandomState(seed)
    y = np.arange(n) % 2
    lengths = np.full(n, 500) if equal else rng.randint(400, 600, n)
    X = [(0.05 + 0.4 * label) * rng.uniform(-1, 1, k).astype(np.float32)
         for label, k in zip(y, lengths)]
    return X, y


def frame(kind, X, name="audio"):
    """X as a one-column DataFrame or a Series of ``kind`` ("pandas.DataFrame", ...)."""
    library, container = kind.split(".")
    if library == "pandas":
        pd = pytest.importorskip("pandas")
        return pd.DataFrame({name: X}) if container == "DataFrame" else pd.Series(X, name=name)
    pl = pytest.importorskip("polars")
    series = pl.Series(name, X)
    return series.to_frame() if container == "DataFrame" else series


KINDS = ["pandas.DataFrame", "pandas.Series", "polars.DataFrame", "polars.Series"]


# -- a column of audio arrays as X -------------------------------------------------------------
@pytest.mark.parametrize("equal", [False, True], ids=["ragged", "equal"])
@pytest.mark.parametrize("kind", KINDS)
def test_a_column_of_audio_arrays_gives_the_features_of_its_clips(kind, equal):
    X, _ = clips(equal=equal)
    expected = mel().fit_transform(np.stack(X) if equal else X)
    data = frame(kind, X)
    transformer = mel().fit(data)
    assert transformer.n_samples_ == max(len(c) for c in X)
    np.testing.assert_array_equal(transformer.transform(data), expected)


@pytest.mark.parametrize("library", ["pandas", "polars"])
def test_a_frame_of_several_columns_is_refused_naming_them(library):
    X, y = clips(3)
    data = frame(f"{library}.DataFrame", X)
    data = (data.assign(label=y) if library == "pandas"
            else data.with_columns(label=pytest.importorskip("polars").Series(y)))
    with pytest.raises(ValueError, match=r"DataFrame with 2 columns \('audio', 'label'\).*"
                                         r"Select the audio column, for example X\[\['audio'\]\]"):
        mel().fit(data)


def test_other_bad_cells_keep_their_messages():
    pd = pytest.importorskip("pandas")
    X, _ = clips(3)
    with pytest.raises(TypeError, match="Clip 1 is a NoneType, not an array of samples"):
        mel().fit(pd.DataFrame({"audio": [X[0], None, X[2]]}))
    with pytest.raises(TypeError, match="Clip 0 is a str.*load_audio for file paths"):
        mel().fit(pd.DataFrame({"path": ["a.wav", "b.wav"]}))
    with pytest.raises(TypeError, match="Clip 0 holds integer samples"):
        mel().fit(pd.DataFrame({"audio": [np.zeros(500, np.int16)]}))
    with pytest.raises(ValueError, match="Clip 2 contains NaN"):
        mel().fit(pd.DataFrame({"audio": [X[0], X[1], np.full(500, np.nan)]}))
    with pytest.raises(ValueError, match="DataFrame with 2 columns.*AudioLoader"):
        mel().fit(pd.DataFrame({"path": ["a.wav"], "label": [0]}))


def test_a_frame_of_numbers_is_still_a_table_of_samples():
    pd = pytest.importorskip("pandas")
    X, _ = clips(4, equal=True)
    table = np.stack(X)
    np.testing.assert_array_equal(mel().fit_transform(pd.DataFrame(table)),
                                  mel().fit_transform(table))


def tiny_pipeline(**params):
    return make_pipeline(mel(), CRNNClassifier(max_epochs=1, batch_size=8, random_state=0,
                                               module__conv_channels=(4,), module__rnn_hidden=4,
                                               **params))


@pytest.mark.parametrize("library", ["pandas", "polars"])
def test_a_pipeline_fits_predicts_and_cross_validates_on_a_frame(library):
    X, y = clips()
    data = frame(f"{library}.DataFrame", X)
    on_list = tiny_pipeline().fit(X, y)
    on_frame = tiny_pipeline().fit(data, y)
    np.testing.assert_allclose(on_frame.predict_proba(data), on_list.predict_proba(X))
    # the splitters index the frame's rows (iloc, polars row selection)
    scores = cross_val_score(tiny_pipeline(), data, y, cv=KFold(2, shuffle=True, random_state=0))
    assert scores.shape == (2,) and np.all((scores >= 0) & (scores <= 1))


def test_grid_search_on_a_frame():
    pd = pytest.importorskip("pandas")
    X, y = clips()
    data = pd.DataFrame({"audio": X}, index=np.arange(100, 100 + len(X)))  # not 0..n-1
    search = GridSearchCV(tiny_pipeline(), {"crnnclassifier__lr": [1e-3, 3e-3]}, cv=2)
    search.fit(data, pd.Series(y, index=data.index))
    assert search.predict(data).shape == (len(X),)


# -- set_output of the embeddings --------------------------------------------------------------
def tiny_net(Estimator=CRNNClassifier):
    return Estimator(max_epochs=1, batch_size=8, random_state=0, module__conv_channels=(4,),
                     module__rnn_hidden=4)


@pytest.fixture(scope="module")
def fitted():
    X = np.random.RandomState(0).randn(8, 16, 20).astype(np.float32)
    y = np.arange(8) % 2
    return tiny_net().fit(X, y), X, y


def columns(dim):
    return [f"crnn_emb{i}" for i in range(dim)]


@pytest.mark.parametrize("library", ["pandas", "polars"])
def test_set_output_gives_a_frame_of_named_embeddings(fitted, library):
    lib = pytest.importorskip(library)
    net, X, y = fitted
    net = clone(net).fit(X, y)
    expected = net.transform(X)
    out = net.set_output(transform=library).transform(X)
    assert isinstance(out, lib.DataFrame)
    assert list(out.columns) == columns(expected.shape[1])
    np.testing.assert_array_equal(out.to_numpy(), expected)
    assert isinstance(net.fit_transform(X, y), lib.DataFrame)
    assert isinstance(net.set_output(transform="default").transform(X), np.ndarray)


def test_the_global_config_and_clone_carry_the_output(fitted):
    pd = pytest.importorskip("pandas")
    net, X, y = fitted
    with sklearn.config_context(transform_output="pandas"):
        assert isinstance(net.transform(X), pd.DataFrame)
    assert isinstance(net.transform(X), np.ndarray)
    configured = tiny_net(CRNNEmbedder).set_output(transform="pandas")
    copy = clone(configured)
    assert copy._sklearn_output_config == {"transform": "pandas"}
    params = tiny_net(CRNNEmbedder).get_params(deep=False)
    assert copy.get_params(deep=False).keys() == params.keys()  # set_output adds no parameter
    assert list(copy.fit(X, y).transform(X).columns) == columns(copy.module_.embedding_dim)


@pytest.mark.parametrize("check", [
    "check_set_output_transform", "check_set_output_transform_pandas",
    "check_global_output_transform_pandas", "check_set_output_transform_polars",
    "check_global_set_output_transform_polars"])
@pytest.mark.parametrize("Estimator", [RowsCRNNClassifier, RowsCRNNEmbedder])
def test_scikit_learn_set_output_checks(Estimator, check):
    # scikit-learn does not run these for third-party estimators; on the common checks'
    # adapters (each table row read as a one-frame spectrogram)
    getattr(estimator_checks, check)(Estimator.__name__, Estimator(**{**_SMALL, "max_epochs": 1}))


def test_estimators_without_embeddings_have_no_set_output():
    for Estimator in (CRNNEventDetector, CRNNTranscriber):
        assert not hasattr(Estimator(), "set_output")
        assert not hasattr(Estimator(), "transform")


def test_the_transformer_refuses_dataframe_output():
    transformer = mel()
    assert transformer.set_output(transform="default") is transformer
    for container in ("pandas", "polars"):
        with pytest.raises(ValueError, match=rf"cannot output transform='{container}'.*3-D.*"
                                             r"pipe\[-1\]\.set_output\(transform='pandas'\)"):
            transformer.set_output(transform=container)
    with pytest.raises(ValueError, match=r"cannot output transform='pandas'.*pipe\[-1\]"):
        tiny_pipeline().set_output(transform="pandas")


def test_a_pipeline_outputs_a_frame_of_embeddings():
    pd = pytest.importorskip("pandas")
    X, y = clips()
    data = pd.DataFrame({"audio": X})
    pipe = tiny_pipeline()
    pipe[-1].set_output(transform="pandas")
    out = pipe.fit(data, y).transform(data)
    assert isinstance(out, pd.DataFrame)
    assert list(out.columns) == list(pipe[-1].get_feature_names_out())
    assert pipe.set_output(transform="default") is pipe  # every step takes "default"
    assert isinstance(pipe.transform(data), np.ndarray)
    with sklearn.config_context(transform_output="pandas"):  # the transformer's stay arrays
        assert isinstance(tiny_pipeline().fit_transform(X, y), pd.DataFrame)


# -- persistence -------------------------------------------------------------------------------
def test_the_output_container_is_saved_and_checked(fitted, tmp_path):
    pd = pytest.importorskip("pandas")
    net, X, y = fitted
    net = clone(net).set_output(transform="pandas").fit(X, y)
    sk_crnn.save(net, tmp_path / "fitted.skcrnn")
    restored = sk_crnn.load(tmp_path / "fitted.skcrnn")
    assert isinstance(restored.transform(X), pd.DataFrame)
    np.testing.assert_allclose(restored.transform(X), net.transform(X))

    sk_crnn.save(tiny_net().set_output(transform="polars"), tmp_path / "unfitted.skcrnn")
    assert sk_crnn.load(tmp_path / "unfitted.skcrnn")._sklearn_output_config == {
        "transform": "polars"}

    rewrite(tmp_path / "unfitted.skcrnn", edit_tree=lambda tree: tree["state"].update(
        {"_sklearn_output_config": {"__dict__": [["transform", "csv"]]}}))
    with pytest.raises(ModelFileError, match="_sklearn_output_config=.*not what set_output"):
        sk_crnn.load(tmp_path / "unfitted.skcrnn")

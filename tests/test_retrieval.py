"""Embeddings for retrieval: CRNNEmbedder, SimilarityIndex and the retrieval metrics."""

import subprocess
import sys
import warnings

import joblib
import numpy as np
import pytest
import torch
from numpy.testing import assert_allclose, assert_array_equal
from sklearn.model_selection import GridSearchCV
from sklearn.pipeline import make_pipeline

from sk_crnn import CRNNEmbedder, MelSpectrogramTransformer, SimilarityIndex
from sk_crnn.datasets import make_tone_clips
from sk_crnn.metrics import mean_average_precision, precision_at_k, retrieval_scorer
from sk_crnn.retrieval import _PairedBatches

TINY = dict(max_epochs=3, batch_size=16, embedding_dim=8, module__conv_channels=(4,),
            module__rnn_hidden=8, random_state=0)


@pytest.fixture(scope="module")
def clips():
    X, y = make_tone_clips(60, sr=8000, duration=0.25, n_classes=3, random_state=0)
    return X, np.array(["low", "mid", "high"])[y]


def pipeline(**params):
    return make_pipeline(MelSpectrogramTransformer(sr=8000, n_fft=256, hop_length=128,
                                                   n_mels=16),
                         CRNNEmbedder(**{**TINY, **params}))


# -- metrics ----------------------------------------------------------------------------------
def test_retrieval_metrics_hand_checked():
    labels = ["a", "a", "b", "b"]
    emb = [[1, 0], [0, 1], [0.9, 0.1], [0.1, 0.9]]
    # Query a1 ranks b1, b2, a2: precision@1 0; a2 ranks b2, b1, a1; b1 ranks a1, b2, a2;
    # b2 ranks a2, b1, a1. Average precisions 1/3, 1/3, 1/2, 1/2.
    assert precision_at_k(labels, emb, k=1) == 0.0
    assert precision_at_k(labels, emb, k=2) == pytest.approx(0.25)
    assert mean_average_precision(labels, emb) == pytest.approx((1 / 3 + 1 / 3 + 0.5 + 0.5) / 4)
    perfect = [[1, 0], [0.9, 0.1], [0, 1], [0.1, 0.9]]
    assert precision_at_k(labels, perfect, k=1) == 1.0
    assert mean_average_precision(labels, perfect) == 1.0
    with pytest.raises(ValueError, match=r"k must be in \[1, 3\]"):
        precision_at_k(labels, emb, k=4)
    with pytest.raises(ValueError, match="inconsistent numbers of samples"):
        precision_at_k(labels[:3], emb)


# -- the index --------------------------------------------------------------------------------
def test_index_neighbours_ids_and_recommendations_hand_checked():
    catalogue = [[1, 0], [0, 1], [0.8, 0.6], [0.6, 0.8], [-1, 0]]
    ids = ["rock1", "jazz1", "rock2", "jazz2", "noise"]
    index = SimilarityIndex(n_neighbors=2).fit(catalogue, ids=ids)
    distances, found = index.kneighbors([[1, 0.1], [0.1, 1]])
    assert found.tolist() == [["rock1", "rock2"], ["jazz1", "jazz2"]]
    # Cosine distance 1 - cos: [1, 0.1] to [1, 0] is 1 - 1/sqrt(1.01).
    assert_allclose(distances[0, 0], 1 - 1 / np.sqrt(1.01))
    assert (np.diff(distances, axis=1) >= 0).all()
    # Liked rock1 and rock2: their mean direction is nearest jazz2, then jazz1; the liked
    # items themselves are never recommended.
    dist, rec = index.recommend(["rock1", "rock2"], n_items=3)
    assert rec.tolist() == ["jazz2", "jazz1", "noise"]
    assert (np.diff(dist) >= 0).all()
    assert index.kneighbors([[1, 0]], n_neighbors=10)[1].shape == (1, 5)  # capped
    with pytest.raises(ValueError, match="not in the catalogue"):
        index.recommend(["pop1"])
    with pytest.raises(ValueError, match="ids must be unique"):
        SimilarityIndex().fit(catalogue, ids=["a"] * 5)
    with pytest.raises(ValueError, match="all-zero embedding"):
        SimilarityIndex().fit([[0, 0], [1, 0]])


def test_index_over_a_pipeline_of_clips(clips):
    X, y = clips
    pipe = pipeline().fit(X[:40], y[:40])
    index = SimilarityIndex(pipe, n_neighbors=3).fit(X[40:], ids=np.arange(100, 120))
    assert_array_equal(index.ids_, np.arange(100, 120))
    assert_allclose(np.linalg.norm(index.embeddings_, axis=1), 1, rtol=1e-6)
    _, found = index.kneighbors(X[40:42])
    assert found[:, 0].tolist() == [100, 101]  # an item's nearest neighbour is itself
    _, rec = index.recommend([100, 101])
    assert not set(rec.tolist()) & {100, 101}


# -- the embedder -----------------------------------------------------------------------------
@pytest.mark.parametrize("objective", ["normsoftmax", "supcon"])
def test_embeddings_are_unit_norm_and_deterministic(clips, objective):
    X, y = clips
    pipe = pipeline(objective=objective).fit(X, y)
    E = pipe.transform(X)
    assert E.shape == (len(X), 8) and E.dtype == np.float32
    assert_allclose(np.linalg.norm(E, axis=1), 1, rtol=1e-5)
    assert_array_equal(E, pipe.transform(X))  # evaluation mode, no augmentation
    assert_array_equal(E, pipeline(objective=objective).fit(X, y).transform(X))  # seeded
    assert pipe[-1].classes_.tolist() == ["high", "low", "mid"]
    assert 0 <= pipe.score(X, y) <= 1
    assert pipe[-1].get_feature_names_out().tolist() == [f"crnn_emb{i}" for i in range(8)]
    assert not hasattr(pipe[-1], "predict") and not hasattr(pipe[-1], "predict_proba")


def test_augmented_embeddings_still_deterministic_at_predict_time(clips):
    X, y = clips
    pipe = pipeline(freq_mask=3, time_mask=2, time_shift=2, mixup=0.2).fit(X, y)
    assert_array_equal(pipe.transform(X), pipe.transform(X))


def test_embedder_learns_to_group_labels(clips):
    X, y = clips
    pipe = pipeline(max_epochs=15, lr=1e-2, module__conv_channels=(8,),
                    module__rnn_hidden=16).fit(X[:45], y[:45])
    emb = pipe.transform(X[45:])
    # 15 test clips, 5 of each label: random embeddings give a precision@5 near 4/14 = 0.29
    # (measured: 0.57).
    assert precision_at_k(y[45:], emb, k=5) > 0.45


@pytest.mark.parametrize(
    "params, error, match",
    [
        (dict(objective="triplet"), ValueError, "objective must be one of"),
        (dict(objective="supcon", mixup=0.2), ValueError, "mixup=0.2 needs objective"),
        (dict(embedding_dim=1), ValueError, "embedding_dim must be an int >= 2"),
        (dict(temperature=0), ValueError, "temperature must be a finite number > 0"),
    ],
)
def test_bad_parameters(clips, params, error, match):
    X, y = clips
    with pytest.raises(error, match=match):
        pipeline(**params).fit(X, y)


def test_bad_targets(clips):
    X, y = clips
    with pytest.raises(ValueError, match="at least 2 labels"):
        pipeline().fit(X, np.full(len(X), "low"))
    with pytest.raises(ValueError, match="needs 1-D labels"):
        pipeline().fit(X, np.c_[y == "low", y == "mid"].astype(int))


def test_grid_search_with_a_retrieval_scorer_and_joblib(clips, tmp_path):
    X, y = clips
    search = GridSearchCV(pipeline(), {"crnnembedder__embedding_dim": [4, 8]}, cv=2,
                          scoring=retrieval_scorer("precision", k=5))
    search.fit(X, y)
    assert search.best_params_["crnnembedder__embedding_dim"] in (4, 8)
    assert 0 <= search.best_score_ <= 1
    path = tmp_path / "embedder.joblib"
    joblib.dump(search.best_estimator_, path)
    expected = search.best_estimator_.transform(X[:5])
    np.save(tmp_path / "X.npy", X[:5])
    code = (
        "import joblib, numpy as np, sys; "
        f"e = joblib.load({str(path)!r}).transform(np.load({str(tmp_path / 'X.npy')!r})); "
        f"np.save({str(tmp_path / 'out.npy')!r}, e)"
    )
    subprocess.run([sys.executable, "-c", code], check=True)
    assert_array_equal(np.load(tmp_path / "out.npy"), expected)
    assert 0 <= retrieval_scorer("map")(search.best_estimator_, X, y) <= 1


def test_cli_trains_an_embedder_and_finds_similar_files(tmp_path):
    import soundfile as sf

    from sk_crnn.cli import main

    X, y = make_tone_clips(24, sr=8000, duration=0.25, n_classes=2, random_state=0)
    for i, (clip, label) in enumerate(zip(X, y)):
        folder = tmp_path / "data" / ["low", "high"][label]
        folder.mkdir(parents=True, exist_ok=True)
        sf.write(folder / f"{i}.wav", clip, 8000)
    model = tmp_path / "embedder.skcrnn"
    assert main(["train", str(tmp_path / "data"), "--task", "embed", "--out", str(model),
                 "--sr", "8000", "--n-fft", "256", "--hop-length", "128", "--n-mels", "16",
                 "--epochs", "2", "--param", "crnnembedder__module__conv_channels=(4,)",
                 "--quiet"]) == 0
    query = tmp_path / "data" / "low" / "0.wav"
    out = tmp_path / "similar.json"
    import contextlib
    import io
    import json

    buffer = io.StringIO()
    with contextlib.redirect_stdout(buffer):
        assert main(["similar", str(model), str(query), "--catalogue", str(tmp_path / "data"),
                     "-k", "3", "--format", "json", "--quiet"]) == 0
    rows = json.loads(buffer.getvalue())
    out.write_text(buffer.getvalue())
    assert [r["rank"] for r in rows] == [1, 2, 3]
    assert rows[0]["path"] == str(query) and rows[0]["similarity"] == pytest.approx(1, abs=1e-4)


# -- supervised contrastive training: batches of pairs ------------------------------------------
def test_paired_batches_hold_pairs_of_one_label_and_several_labels():
    labels = np.r_[np.repeat(np.arange(10), 2), [10, 10, 10], [11]]  # an odd label, a lone clip
    sampler = _PairedBatches(labels, batch_size=4)
    torch.manual_seed(0)
    batches = list(sampler)
    assert len(batches) == len(sampler) == 6
    assert sorted(np.concatenate(batches).tolist()) == list(range(len(labels)))  # each once
    for batch in batches[:-1]:  # the last holds the single clips
        counts = np.bincount(labels[batch])
        assert (counts == 2).sum() == 2  # two pairs, of two labels
    torch.manual_seed(0)
    assert list(sampler) == batches  # torch's generator, seeded by random_state in fit
    assert list(sampler) != batches  # a new order each epoch
    with pytest.raises(ValueError, match="no label has two clips among the training clips"):
        _PairedBatches(np.arange(6), batch_size=4)


class _ShuffledLoader(torch.utils.data.DataLoader):
    """A data loader of plain shuffled batches (not the embedder's pairs)."""


def test_supcon_learns_from_small_batches_of_many_labels():
    # 10 labels of 2 clips: shuffled batches of 4 rarely hold two clips of a label, and
    # a batch without a pair has a loss of exactly 0; paired batches always have one.
    rng = np.random.RandomState(1)
    labels = np.repeat(np.arange(10), 2)
    X = (rng.randn(20, 8, 12) + 0.5 * rng.randn(10, 8, 1)[labels]).astype("float32")
    params = dict(TINY, objective="supcon", batch_size=4, max_epochs=8, lr=1e-2)
    emb = CRNNEmbedder(**params).fit(X, labels)
    batch_losses = [b["train_loss"] for row in emb.history for b in row["batches"]]
    assert len(batch_losses) == 8 * 5 and min(batch_losses) > 0
    losses = emb.history[:, "train_loss"]
    assert losses[-1] < 0.5 * losses[0]
    # it learns: each clip's nearest neighbour is more often the other clip of its label
    # than with the initial weights (measured: 0.8 against 0.5)
    untrained = CRNNEmbedder(**{**params, "max_epochs": 1, "lr": 1e-9}).fit(X, labels)
    assert (precision_at_k(labels, emb.transform(X), k=1)
            > precision_at_k(labels, untrained.transform(X), k=1) + 0.1)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)  # its loss jumps from 0 to > 0
        shuffled = CRNNEmbedder(**params, iterator_train=_ShuffledLoader).fit(X, labels)
    assert any(b["train_loss"] == 0 for row in shuffled.history for b in row["batches"])


@pytest.mark.parametrize("params", [dict(batch_size=2), dict(iterator_train__batch_size=3)])
def test_supcon_refuses_batches_too_small_to_hold_a_pair_and_another_label(params):
    X = np.random.RandomState(0).randn(20, 8, 12).astype("float32")
    with pytest.raises(ValueError, match=r"objective='supcon' .* needs batch_size >= 4; got "
                                         r"batch_size=[23] .*the loss is 0"):
        CRNNEmbedder(**{**TINY, **params}, objective="supcon").fit(X, np.arange(20) % 10)
    assert CRNNEmbedder(**{**TINY, **params}).fit(X, np.arange(20) % 10)  # normsoftmax may


def test_supcon_needs_two_clips_of_some_label():
    X = np.random.RandomState(0).randn(6, 8, 12).astype("float32")
    with pytest.raises(ValueError, match="no label has two clips"):
        CRNNEmbedder(**{**TINY, "batch_size": 4}, objective="supcon").fit(X, np.arange(6))

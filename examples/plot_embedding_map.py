"""
A map of the embeddings
=======================

A :class:`~sk_crnn.CRNNEmbedder` learns unit-norm embeddings in which clips of one label lie
close together and clips of different labels far apart: the basis of similarity search and
content-based recommendation (:class:`~sk_crnn.SimilarityIndex`). A 2-D projection of the
embeddings of held-out clips is the quickest look at what it learned: one tight, separate
cloud per label is what retrieval needs.

Here the clips are :func:`~sk_crnn.datasets.make_tone_clips` in four pitch registers,
projected with scikit-learn's :class:`~sklearn.decomposition.PCA`, next to the same
projection of plain MFCC statistics (:func:`~sk_crnn.baselines.mean_std_pool`) for
comparison.
"""

# %%
# Train an embedder
# -----------------
import matplotlib.pyplot as plt
import numpy as np
from sklearn.decomposition import PCA
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

from sk_crnn import CRNNEmbedder, MelSpectrogramTransformer
from sk_crnn.baselines import mean_std_pool
from sk_crnn.datasets import make_tone_clips

X, y = make_tone_clips(240, sr=8000, duration=0.5, n_classes=4, random_state=0)
labels = np.array(["low", "mid-low", "mid-high", "high"])[y]
X_train, X_test, labels_train, labels_test = X[:160], X[160:], labels[:160], labels[160:]

embedder = make_pipeline(
    MelSpectrogramTransformer(sr=8000, n_fft=256, hop_length=128, n_mels=24, normalize="band"),
    CRNNEmbedder(embedding_dim=16, max_epochs=15, lr=1e-2, module__conv_channels=(8, 16),
                 module__rnn_hidden=16, random_state=0),
).fit(X_train, labels_train)
E = embedder.transform(X_test)  # (n_clips, embedding_dim), unit norm
print(E.shape, np.linalg.norm(E, axis=1)[:3].round(3))
print(f"precision@10 of held-out clips: {embedder.score(X_test, labels_test):.2f}")

# %%
# Project to two dimensions
# -------------------------
mfcc = MelSpectrogramTransformer(sr=8000, n_fft=256, hop_length=128, n_mels=24, n_mfcc=13)
baseline = StandardScaler().fit_transform(mean_std_pool(mfcc.fit_transform(X_test)))

fig, axes = plt.subplots(1, 2, figsize=(10, 4.5), layout="constrained")
for ax, features, title in [(axes[0], baseline, "MFCC statistics"),
                            (axes[1], E, "CRNNEmbedder embeddings")]:
    points = PCA(n_components=2).fit_transform(features)
    for label in ["low", "mid-low", "mid-high", "high"]:
        mask = labels_test == label
        ax.scatter(points[mask, 0], points[mask, 1], label=label, s=25, alpha=0.8)
    ax.set(title=title, xlabel="PC 1", ylabel="PC 2")
axes[1].legend(title="pitch register", loc="best")
fig.suptitle("Held-out clips, projected with PCA")
plt.show()

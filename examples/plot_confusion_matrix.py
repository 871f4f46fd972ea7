"""
A confusion matrix: which classes get mixed up
==============================================

Accuracy is one number; a confusion matrix shows *which* classes a model confuses. A fitted
sk_crnn pipeline is a scikit-learn classifier, so scikit-learn's
:class:`~sklearn.metrics.ConfusionMatrixDisplay` draws it directly from the model and held-out
clips.

The task is :func:`~sk_crnn.datasets.make_event_sequences` with three events: every clip holds
the same chirp, noise burst and tone, and the class is their order (six classes). Features
pooled over time carry no information on the order, so the classic MFCC baseline
(:func:`~sk_crnn.baselines.mfcc_baseline`, MFCC statistics and a logistic regression) stays
near chance; the recurrent layer of a :class:`~sk_crnn.CRNNClassifier` reads the frames in
order.
"""

# %%
# Data and the two models
# -----------------------
import matplotlib.pyplot as plt
from sklearn.metrics import ConfusionMatrixDisplay
from sklearn.model_selection import train_test_split
from sklearn.pipeline import make_pipeline

from sk_crnn import CRNNClassifier, MelSpectrogramTransformer
from sk_crnn.baselines import mfcc_baseline
from sk_crnn.datasets import make_event_sequences

sr, n_fft, hop_length = 8000, 256, 128
X, y = make_event_sequences(360, sr=sr, duration=1.0, n_events=3, random_state=0)
X_train, X_test, y_train, y_test = train_test_split(X, y, test_size=120, stratify=y,
                                                    random_state=0)

crnn = make_pipeline(
    MelSpectrogramTransformer(sr=sr, n_fft=n_fft, hop_length=hop_length, n_mels=24,
                              normalize="band"),
    CRNNClassifier(max_epochs=15, lr=1e-2, module__conv_channels=(8, 16),
                   module__rnn_hidden=24, random_state=0),
).fit(X_train, y_train)
baseline = mfcc_baseline(sr, n_fft, hop_length, n_mels=24).fit(X_train, y_train)
print(f"MFCC baseline accuracy: {baseline.score(X_test, y_test):.2f}")
print(f"CRNN accuracy:          {crnn.score(X_test, y_test):.2f}")

# %%
# The confusion matrices
# ----------------------
# Rows are the true orders, columns the predicted ones; a perfect model fills the diagonal.
fig, axes = plt.subplots(1, 2, figsize=(11, 5), layout="constrained")
for ax, model, name in [(axes[0], baseline, "MFCC statistics + logistic regression"),
                        (axes[1], crnn, "CRNNClassifier")]:
    ConfusionMatrixDisplay.from_estimator(model, X_test, y_test, ax=ax, colorbar=False,
                                          xticks_rotation=45)
    ax.set_title(name)
    labels = [t.get_text().replace("_then_", " > ") for t in ax.get_xticklabels()]
    ax.set_xticklabels(labels, ha="right")
    ax.set_yticklabels(labels)
plt.show()

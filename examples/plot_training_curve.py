"""
The training curve
==================

A CRNN estimator is a skorch net, so it records a history of every epoch: the training loss,
and, when part of the training data is held out with ``validation_fraction``, the validation
loss and accuracy. :func:`~sk_crnn.plotting.plot_history` draws them: losses on the left axis,
scores on the right. Read it as usual: both losses falling means the network is still
learning; a validation loss that turns up while the training loss keeps falling means it has
started to overfit (``early_stopping=True`` stops there).
"""

# %%
# Fit a small pipeline with a validation split
# --------------------------------------------
# A :class:`~sk_crnn.MelSpectrogramTransformer` and a :class:`~sk_crnn.CRNNClassifier` form a
# pipeline on raw waveforms. ``validation_fraction=0.2`` keeps a stratified fifth of the
# training clips aside and scores them after every epoch. The training loss is noisier than
# the validation loss: it is measured on clips mixed by ``mixup``, one of the classifier's
# defaults. A tiny network on few clips learns faster with ``lr=1e-2`` than the default 1e-3.
import matplotlib.pyplot as plt
from sklearn.pipeline import make_pipeline

from sk_crnn import CRNNClassifier, MelSpectrogramTransformer
from sk_crnn.datasets import make_tone_clips
from sk_crnn.plotting import plot_history

X, y = make_tone_clips(160, sr=8000, duration=0.5, n_classes=4, random_state=0)
model = make_pipeline(
    MelSpectrogramTransformer(sr=8000, n_fft=256, hop_length=128, n_mels=24, normalize="band"),
    CRNNClassifier(max_epochs=15, lr=1e-2, validation_fraction=0.2, module__conv_channels=(8, 16),
                   module__rnn_hidden=16, random_state=0),
)
model.fit(X, y)

# %%
# The per-epoch entries
# ---------------------
# ``model[-1].history`` is a list of dicts, one per epoch.
for row in model[-1].history[-3:]:
    print(f"epoch {row['epoch']:2d}  train_loss {row['train_loss']:.3f}  "
          f"valid_loss {row['valid_loss']:.3f}  valid_acc {row['valid_acc']:.2f}")

# %%
# Plot it
# -------
# By default every numeric entry is drawn; ``keys`` picks the losses and the accuracy (the
# history also records the learning rate of the cosine schedule, ``event_lr``).
ax = plot_history(model, keys=["train_loss", "valid_loss", "valid_acc"])
ax.set_title("CRNNClassifier on make_tone_clips (4 classes)")
ax.get_legend().set_visible(False)  # one legend for both axes, clear of the lines
ax.figure.legend(loc="center right", bbox_to_anchor=(0.88, 0.55))
plt.show()

"""Shared fixtures: tiny random spectrograms and a tiny, fast network configuration."""

import numpy as np
import pytest


@pytest.fixture
def spectrograms():
    """24 random 'spectrograms' of 16 mel bands x 20 frames, float32."""
    return np.random.RandomState(0).randn(24, 16, 20).astype("float32")


@pytest.fixture
def tiny():
    """Estimator parameters for a network that trains in milliseconds."""
    return dict(max_epochs=2, batch_size=8, module__conv_channels=(4,), module__rnn_hidden=4)

"""The CRNN torch module: shapes, the time axis, pooling heads and size checks."""

import pytest
import torch

from sk_crnn import modules
from sk_crnn._validation import InvalidParameterError
from sk_crnn.modules import CRNN, crnn_min_input_size, crnn_output_size


def small(**kwargs):
    params = dict(n_mels=16, n_outputs=3, conv_channels=(4, 8), rnn_hidden=5)
    params.update(kwargs)
    return CRNN(**params).eval()


@pytest.mark.parametrize("rnn_type", ["gru", "lstm"])
@pytest.mark.parametrize("pooling", ["mean", "max", "attention", "last"])
@pytest.mark.parametrize("bidirectional", [True, False])
def test_output_and_embedding_shapes(rnn_type, pooling, bidirectional):
    net = small(rnn_type=rnn_type, pooling=pooling, bidirectional=bidirectional)
    X = torch.randn(2, 16, 20)
    assert net(X).shape == (2, 3)
    assert net(X.unsqueeze(1)).shape == (2, 3)  # (batch, 1, n_mels, n_frames)
    assert net.embedding_dim == (10 if bidirectional else 5)
    assert net.embed(X).shape == (2, net.embedding_dim)
    assert isinstance(net.rnn, torch.nn.GRU if rnn_type == "gru" else torch.nn.LSTM)


@pytest.mark.parametrize("time_pool, n_steps", [(1, 20), (2, 5), ((2, 1), 10)])
def test_time_is_the_sequence_axis(time_pool, n_steps):
    net = small(time_pool=time_pool)
    assert net.sequence_length(20) == n_steps
    assert net.sequence(torch.randn(2, 16, 20)).shape == (2, n_steps, net.embedding_dim)
    # frequency is pooled into the features, not into the sequence
    assert net.n_mels_out == 4 and net.rnn.input_size == 8 * 4


def test_recurrence_runs_over_time():
    # A forward-only RNN over time is causal: changing only the last frames leaves the
    # earlier steps unchanged (up to the conv receptive field) and changes the last step.
    net = small(bidirectional=False, pooling="last", conv_channels=(4,))
    X = torch.randn(1, 16, 20)
    X2 = X.clone()
    X2[..., 15:] += 1.0
    with torch.no_grad():
        seq, seq2 = net.sequence(X), net.sequence(X2)
        assert torch.allclose(seq[:, :14], seq2[:, :14])
        assert not torch.allclose(seq[:, 14:], seq2[:, 14:])
        assert not torch.allclose(net(X), net(X2))


def test_last_pooling_joins_both_directions_final_states():
    net = small(pooling="last", bidirectional=True)
    X = torch.randn(2, 16, 20)
    with torch.no_grad():
        seq = net.sequence(X)
        expected = torch.cat([seq[:, -1, :5], seq[:, 0, 5:]], dim=1)
        assert torch.allclose(net.embed(X), expected)


def test_attention_weights_sum_to_one_over_time():
    net = small(pooling="attention")
    X = torch.randn(2, 16, 20)
    with torch.no_grad():
        seq = net.sequence(X)
        seq_const = seq[:, :1].expand_as(seq)  # a constant sequence pools to itself
        weights = torch.softmax(net.attention(seq_const), dim=1)
        assert torch.allclose((weights * seq_const).sum(1), seq_const[:, 0], atol=1e-6)


def test_too_few_mel_bands_message():
    with pytest.raises(
        ValueError,
        match=r"n_mels=8 is too small for freq_pool=\(2, 2, 2, 2\): "
        r"needs at least 16 mel bands; increase n_mels",
    ):
        CRNN(n_mels=8, n_outputs=2, conv_channels=(4, 4, 4, 4))


def test_too_few_frames_message_at_init_and_forward():
    with pytest.raises(
        ValueError,
        match=r"n_frames=3 is too small for time_pool=\(2, 2\): "
        r"needs at least 4 frames",
    ):
        CRNN(n_mels=16, n_outputs=2, n_frames=3, conv_channels=(4, 4), time_pool=2)
    net = CRNN(n_mels=16, n_outputs=2, conv_channels=(4, 4), time_pool=2)  # n_frames=None
    assert net(torch.randn(1, 16, 4)).shape == (1, 2)
    with pytest.raises(ValueError, match="n_frames=3 is too small"):
        net(torch.randn(1, 16, 3))


@pytest.mark.parametrize(
    "kwargs, match",
    [
        (dict(rnn_type="rnn"), "rnn_type"),
        (dict(pooling="sum"), "pooling"),
        (dict(freq_pool=(2, 2, 2)), "freq_pool"),
        (dict(time_pool=(1,)), "time_pool"),
        (dict(conv_channels=()), "conv_channels"),
        (dict(dropout=1.0), "dropout"),
        (dict(rnn_hidden=0), "rnn_hidden must be an int >= 1; got 0"),
        (dict(bidirectional=1), "bidirectional must be True or False"),
        (dict(conv_channels=(4, 0)), "conv_channels entries must be positive ints"),
        (dict(kernel_size=2.5), "kernel_size must be an int >= 1; got 2.5 of type float"),
    ],
)
def test_bad_parameters_name_the_parameter(kwargs, match):
    """The networks check their arguments in the package's one table language: an
    InvalidParameterError, both a ValueError and a TypeError."""
    with pytest.raises(InvalidParameterError, match=match) as info:
        small(**kwargs)
    assert isinstance(info.value, ValueError) and isinstance(info.value, TypeError)


@pytest.mark.parametrize("network, kwargs, match", [
    ("SequenceCRNN", dict(n_frames=0), "n_frames must be an int >= 1 or None"),
    ("EmbeddingCRNN", dict(embedding_dim=0), "embedding_dim must be an int >= 1"),
    ("EmbeddingCRNN", dict(n_outputs=-1), "n_outputs must be an int >= 1"),
])
def test_task_networks_check_their_own_arguments(network, kwargs, match):
    cls = getattr(modules, network)
    with pytest.raises(InvalidParameterError, match=match):
        cls(**{"n_mels": 16, "n_outputs": 3, "conv_channels": (4,), **kwargs})


def test_input_shape_errors():
    net = small(n_frames=20)
    with pytest.raises(ValueError, match="expects input of shape"):
        net(torch.randn(2, 2, 16, 20))
    with pytest.raises(ValueError, match="built for n_mels=16"):
        net(torch.randn(2, 12, 20))
    with pytest.raises(ValueError, match="built for n_frames=20"):
        net(torch.randn(2, 16, 24))


@pytest.mark.parametrize("kernel_size", [2, 3, 4, 5])
@pytest.mark.parametrize("pools", [(1,), (2, 2), (3, 2, 2)])
def test_min_input_size_is_the_smallest_that_works(kernel_size, pools):
    n = crnn_min_input_size(pools, kernel_size)
    assert crnn_output_size(n, pools, kernel_size) >= 1
    assert n == 1 or crnn_output_size(n - 1, pools, kernel_size) == 0
    net = CRNN(
        n_mels=n,
        n_outputs=2,
        conv_channels=(2,) * len(pools),
        freq_pool=pools,
        kernel_size=kernel_size,
    ).eval()
    assert net(torch.randn(1, n, 6)).shape == (1, 2)


def test_input_norm_standardises_each_mel_band_with_batch_statistics():
    net = CRNN(n_mels=16, n_outputs=3, conv_channels=(4,), input_norm=True)
    X = torch.randn(32, 16, 20) * torch.linspace(1, 10, 16)[:, None] + 40.0
    seen = {}
    net.conv.register_forward_hook(lambda m, inp, out: seen.update(x=inp[0]))
    net.train()(X)
    x = seen["x"]  # what the conv blocks get: (batch, 1, n_mels, n_frames)
    torch.testing.assert_close(x.mean(dim=(0, 1, 3)), torch.zeros(16), atol=1e-4, rtol=0)
    torch.testing.assert_close(x.std(dim=(0, 1, 3)), torch.ones(16), atol=1e-2, rtol=0)
    assert "input_norm.running_mean" in net.state_dict()
    assert "input_norm.running_mean" not in CRNN(n_mels=16, n_outputs=3).state_dict()


@pytest.mark.parametrize("name", ["FrameCRNN", "EmbeddingCRNN", "SequenceCRNN",
                                  "attention_pool"])
def test_task_networks_keep_their_public_path_and_examples(name):
    import doctest

    import sk_crnn.modules

    obj = getattr(sk_crnn.modules, name)  # each in a module of its own, public here
    assert obj.__module__ == "sk_crnn.modules" and name in dir(sk_crnn.modules)
    tests = doctest.DocTestFinder().find(obj, name, globs={})
    runner = doctest.DocTestRunner()
    for test in tests:
        runner.run(test)
    assert runner.failures == 0
    assert runner.tries > 0 or name == "attention_pool"


def test_frame_and_sequence_networks_share_the_default_time_pool():
    from sk_crnn.modules import CONV_CHANNELS, FrameCRNN, SequenceCRNN, default_time_pool

    assert default_time_pool() == default_time_pool(CONV_CHANNELS) == (2, 1, 1)
    assert default_time_pool(4) == (2,) and default_time_pool((4, 8)) == (2, 1)
    for channels in (None, 4, (4, 8)):
        kw = {} if channels is None else {"conv_channels": channels}
        expected = default_time_pool(*([] if channels is None else [channels]))
        assert FrameCRNN(n_mels=8, n_outputs=2, rnn_hidden=4, **kw).crnn.time_pool == expected
        assert SequenceCRNN(n_mels=8, n_outputs=2, rnn_hidden=4, **kw).crnn.time_pool == expected

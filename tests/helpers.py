"""Test helpers shared by several test modules (imported as ``from helpers import ...``)."""

from skorch.callbacks import Callback


class InterruptAt(Callback):
    """Raise KeyboardInterrupt at the end of epoch ``epoch``, as Ctrl-C would."""

    def __init__(self, epoch):
        self.epoch = epoch

    def on_epoch_end(self, net, **kwargs):
        if len(net.history) == self.epoch:
            raise KeyboardInterrupt

"""Numeric precision of the CRNN estimators (``precision="32"``, ``"bf16"``, ``"16-mixed"``):
the autocast of the forward pass and the gradient-scaled training step of float16."""


import torch
from skorch.dataset import unpack_data
from skorch.utils import TeeGenerator


def autocast(precision, on_cuda):
    """The autocast context of the forward pass for ``precision`` on CUDA (``on_cuda``) or
    the CPU, or None for float32 (float16 autocasts on CUDA only)."""
    device_type = "cuda" if on_cuda else "cpu"
    if precision == "bf16":
        return torch.autocast(device_type, dtype=torch.bfloat16)
    if precision == "16-mixed" and device_type == "cuda":
        return torch.autocast("cuda", dtype=torch.float16)
    return None


def forward(infer, x, precision, on_cuda, **fit_params):
    """``infer(x, **fit_params)`` under the autocast of ``precision``, as float32."""
    context = autocast(precision, on_cuda) if precision != "32" else None
    if context is None:
        return infer(x, **fit_params)
    with context:
        return infer(x, **fit_params).float()


class GradScaledStep:
    """The training step of ``precision="16-mixed"``: skorch's step (zero the gradients,
    forward, loss, backward, ``on_grad_computed``, optimizer step) with the loss scaled for
    the backward pass and the gradients unscaled before the callbacks and the step, so that
    float16 gradients neither underflow nor overflow (``torch.amp.GradScaler``).

    A train-step strategy: the net's ``train_step`` calls it with itself and the batch.
    """

    def __init__(self):
        self.scaler = torch.amp.GradScaler("cuda")

    def __call__(self, net, optimizers, batch, **fit_params):
        for optimizer in optimizers:
            optimizer.zero_grad()
        net._set_training(True)
        Xi, yi = unpack_data(batch)
        y_pred = net.infer(Xi, **fit_params)
        loss = net.get_loss(y_pred, yi, X=Xi, training=True)
        self.scaler.scale(loss).backward()
        for optimizer in optimizers:
            self.scaler.unscale_(optimizer)
        net.notify("on_grad_computed", named_parameters=TeeGenerator(
            net.get_all_learnable_params()), batch=batch, training=True)
        for optimizer in optimizers:
            self.scaler.step(optimizer)
        self.scaler.update()
        return {"loss": loss, "y_pred": y_pred}


def scaled_step(precision):
    """The train-step strategy of ``precision``: a :class:`GradScaledStep` for "16-mixed",
    else None (skorch's own step)."""
    return GradScaledStep() if precision == "16-mixed" else None


__all__ = ["GradScaledStep", "autocast", "forward", "scaled_step"]

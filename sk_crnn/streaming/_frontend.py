"""The streaming front end: audio chunks in, the feature frames that became final out.

Frame ``t`` of a :class:`~sk_crnn.MelSpectrogramTransformer` reads the samples
``t * hop_length - pad`` to ``t * hop_length - pad + n_fft`` (``pad = n_fft // 2`` when
centred, else 0) of the signal padded as ``pad_mode`` says; it is final once they have all
arrived. The front end keeps the samples that the next frames still need (at most
``n_fft + 1`` between two chunks, plus the first ``pad + 1`` samples that the left padding
reads), computes
each final frame with the transformer's own code (its front end without centring, on the
padded samples of those frames) and its band normalisation, and at the end computes the
remaining frames with the right padding, as the transformer does for the whole audio.
"""

import numpy as np
import torch
from sklearn.base import clone

from ..features import n_frames_for

_DTYPES = {"float32": torch.float32, "float64": torch.float64, "float16": torch.float16}


def check_streamable_frontend(transformer, name):
    """Refuse the transformer parameters that are not frame-local, naming the fix."""
    if transformer.scale != "db":
        return
    if transformer.top_db is not None:
        raise ValueError(
            f"Stream needs MelSpectrogramTransformer(top_db=None): top_db={transformer.top_db!r} "
            "clips every value more than top_db below the loudest value of the whole clip, "
            "which a stream does not know until it ends. Fit the pipeline with "
            f"{name}__top_db=None (normalize='band' or the estimator's input_norm handle the "
            "scale instead).")
    if callable(transformer.ref):
        raise ValueError(
            f"Stream needs a fixed reference of the dB scale: ref={transformer.ref!r} is "
            "computed from the whole clip (its maximum for np.max), which a stream does not "
            f"know until it ends. Fit the pipeline with {name}__ref=1.0 (or another number).")


class StreamingFrontEnd:
    """The features of a stream of audio, frame by frame, as the fitted transformer computes
    them for the whole audio (without cropping it to the fitted length).

    Parameters
    ----------
    transformer : MelSpectrogramTransformer
        Fitted, with frame-local parameters (:func:`check_streamable_frontend`).
    device : torch.device
    """

    def __init__(self, transformer, device):
        self.fitted = transformer._frontend_module(device)  # band statistics, checks
        plain = clone(transformer).set_params(center=False)
        self.frames_of = plain._plan(device, fitted=False).eval()  # frames of given samples
        self.device = device
        self.n_fft = int(transformer.n_fft)
        self.hop = int(transformer.hop_length)
        self.center = bool(transformer.center)
        self.pad = self.n_fft // 2 if self.center else 0
        self.pad_mode = transformer.pad_mode
        self.dtype = _DTYPES[np.dtype(transformer.dtype).name]
        self.n_bands = int(transformer.n_bands_)
        self.reset()

    def reset(self):
        """Forget the stream."""
        self.buffer = torch.zeros(0, device=self.device)  # samples buffer_start, ...
        self.buffer_start = 0
        self.head = torch.zeros(0, device=self.device)  # the first pad + 1 samples
        self.n_samples = 0  # samples received
        self.next_frame = 0  # the first frame not computed yet

    def push(self, samples):
        """Append ``samples`` (a 1-D float32 tensor on the device); return the frames that
        became final, a tensor of shape (n_new_frames, n_bands)."""
        self.buffer = torch.cat([self.buffer, samples])
        if self.head.numel() < self.pad + 1:
            self.head = torch.cat([self.head, samples[: self.pad + 1 - self.head.numel()]])
        self.n_samples += samples.numel()
        return self._frames(self._final_frames(), end=False)

    def flush(self):
        """The remaining frames of the ended stream, the end padded as ``pad_mode`` says."""
        n = self.n_samples
        if n == 0:
            return self._frames(0, end=True)
        if self.center and self.pad_mode == "reflect" and n <= self.pad:
            raise ValueError(
                f"The stream ended after {n} samples, too few for pad_mode='reflect', which "
                f"mirrors the last n_fft // 2 = {self.pad} samples; use pad_mode='constant' or "
                "a longer stream.")
        return self._frames(n_frames_for(n, n_fft=self.n_fft, hop_length=self.hop,
                                         center=self.center), end=True)

    def _final_frames(self):
        """How many frames the samples received so far determine."""
        n = self.n_samples
        needs_head = {"reflect": self.pad + 1, "edge": 1}.get(self.pad_mode, 0)
        if n + self.pad < self.n_fft or (self.center and n < needs_head):
            return 0
        return (n + self.pad - self.n_fft) // self.hop + 1

    def _frames(self, stop, *, end):
        """Frames ``next_frame .. stop - 1``, then drop the samples no later frame needs."""
        start = self.next_frame
        if stop <= start:
            return torch.zeros((0, self.n_bands), device=self.device)
        a = start * self.hop - self.pad
        b = (stop - 1) * self.hop - self.pad + self.n_fft
        segment = self._samples(a, b, end=end)
        with torch.inference_mode():
            feats = self.fitted.normalized(self.frames_of.features(segment[None]))[0]
        if not torch.isfinite(feats).all():
            raise ValueError(
                "The features of the stream are not finite: its samples are so loud that their "
                "powers overflow float32 (samples of about 1e16 and more); scale the audio to "
                "[-1, 1].")
        feats = feats.to(self.dtype).to(torch.float32)  # the transformer's output dtype
        self.next_frame = stop
        keep = max(0, min(stop * self.hop - self.pad, self.n_samples - self.n_fft - 1))
        if keep > self.buffer_start:
            self.buffer = self.buffer[keep - self.buffer_start:].clone()
            self.buffer_start = keep
        return feats

    def _samples(self, a, b, *, end):
        """Samples ``a:b`` of the padded signal (negative indices: the left padding; past the
        end, once the stream ended: the right padding)."""
        n = self.n_samples
        lo, hi = max(a, 0), min(b, n)
        core = self.buffer[lo - self.buffer_start:hi - self.buffer_start] if hi > lo else (
            self.buffer[:0])
        left, right = max(0, -a), (max(0, b - n) if end else 0)
        parts = []
        if left:
            parts.append(self._pad(left, self.head, at_start=True))
        parts.append(core)
        if right:
            tail = self.buffer[max(0, n - self.pad - 1 - self.buffer_start):]
            parts.append(self._pad(right, tail, at_start=False))
        return torch.cat(parts)

    def _pad(self, size, samples, *, at_start):
        """``size`` padding samples before the first of ``samples`` (``at_start``) or after
        the last, as ``MelFrontEnd`` pads."""
        if self.pad_mode == "constant" or samples.numel() == 0:
            return torch.zeros(size, device=self.device)
        if self.pad_mode == "edge":
            return (samples[:1] if at_start else samples[-1:]).expand(size)
        if at_start:  # reflect: x[1:size + 1] mirrored
            return samples[1:size + 1].flip(0)
        return samples[-1 - size:-1].flip(0)  # x[n - 1 - size:n - 1] mirrored

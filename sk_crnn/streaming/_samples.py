"""The samples of a stream, kept as the next feature frames need them (numpy only).

What :class:`~sk_crnn.streaming._frontend.StreamingFrontEnd` does before it computes
features, for a runner that computes them elsewhere (the ONNX step of
:class:`~sk_crnn.streaming.OnnxStream`): frame ``t`` reads samples ``t * hop_length - pad``
to ``t * hop_length - pad + n_fft`` of the signal padded as ``pad_mode`` says (``pad =
n_fft // 2`` when centred, else 0), and is final once they have all arrived. The buffer keeps
the samples that the frames not yet taken still need, the first ``pad + 1`` samples (the left
padding reads them) and the last ``n_fft + 1`` (the right padding at the end).
"""

import numpy as np

PAD_MODES = ("constant", "reflect", "edge")


def check_chunk(chunk, owner):
    """A chunk of samples as a 1-D float32 array, or a clear error naming ``owner``."""
    if type(chunk).__module__.startswith("torch"):  # a tensor, without importing torch
        chunk = chunk.detach().cpu().numpy()
    samples = np.asarray(chunk)
    if samples.dtype.kind in "iub":
        raise TypeError(
            f"The chunk holds {samples.dtype} samples; {owner} takes float samples in [-1, 1]. "
            "Convert integer PCM first, for example chunk.astype(np.float32) / 32768 for "
            "int16.")
    if samples.dtype.kind != "f":
        raise TypeError(f"The chunk must be an array of float samples; got dtype "
                        f"{samples.dtype}.")
    if samples.ndim != 1:
        raise ValueError(
            f"A chunk is 1-D, mono samples of shape (n_samples,); got shape {samples.shape}. "
            "Mix the channels first, for example chunk.mean(axis=1) for (n_samples, "
            "n_channels).")
    given, samples = samples, samples.astype(np.float32, copy=False)
    if not np.isfinite(samples).all():
        bad = int(np.flatnonzero(~np.isfinite(samples))[0])
        raise ValueError(
            f"The chunk holds NaN or infinite samples, or samples beyond the float32 range "
            f"(the first at index {bad}: {given[bad]!r}); clean the audio before streaming "
            "it.")
    return samples


class SampleBuffer:
    """The samples of a stream and the padded segments of its frames.

    Parameters
    ----------
    n_fft, hop_length : int
    center : bool
    pad_mode : {"constant", "reflect", "edge"}
        As the transformer's.
    """

    def __init__(self, *, n_fft, hop_length, center, pad_mode):
        if pad_mode not in PAD_MODES:
            raise ValueError(f"pad_mode must be one of {PAD_MODES}; got {pad_mode!r}.")
        self.n_fft, self.hop, self.center = int(n_fft), int(hop_length), bool(center)
        self.pad = self.n_fft // 2 if self.center else 0
        self.pad_mode = pad_mode
        self.reset()

    def reset(self):
        """Forget the stream."""
        self.buffer = np.zeros(0, dtype=np.float32)  # samples buffer_start, ...
        self.buffer_start = 0
        self.head = np.zeros(0, dtype=np.float32)  # the first pad + 1 samples
        self.n_samples = 0

    def append(self, samples):
        """Add the next samples (1-D float32)."""
        self.buffer = np.concatenate([self.buffer, samples])
        if len(self.head) < self.pad + 1:
            self.head = np.concatenate([self.head, samples[:self.pad + 1 - len(self.head)]])
        self.n_samples += len(samples)

    def final_frames(self):
        """How many frames the samples received so far determine."""
        n = self.n_samples
        needs_head = {"reflect": self.pad + 1, "edge": 1}.get(self.pad_mode, 0)
        if n + self.pad < self.n_fft or (self.center and n < needs_head):
            return 0
        return (n + self.pad - self.n_fft) // self.hop + 1

    def frames_at_end(self):
        """How many frames the whole stream has (``n_frames_for`` of its length), or a
        ValueError when it is too short to pad as ``pad_mode`` says."""
        n = self.n_samples
        if n and self.center and self.pad_mode == "reflect" and n <= self.pad:
            raise ValueError(
                f"The stream ended after {n} samples, too few for pad_mode='reflect', which "
                f"mirrors the last n_fft // 2 = {self.pad} samples; use pad_mode='constant' or "
                "a longer stream.")
        if self.center:
            return 1 + n // self.hop if n else 0
        return max(0, 1 + (n - self.n_fft) // self.hop)

    def segment(self, start, stop, *, end):
        """The padded samples of frames ``start .. stop - 1``, shape
        ((stop - start - 1) * hop_length + n_fft,); past the received samples, the right
        padding (only once the stream ``end``-ed)."""
        a = start * self.hop - self.pad
        b = (stop - 1) * self.hop - self.pad + self.n_fft
        n = self.n_samples
        lo, hi = max(a, 0), min(b, n)
        core = (self.buffer[lo - self.buffer_start:hi - self.buffer_start] if hi > lo
                else self.buffer[:0])
        left, right = max(0, -a), (max(0, b - n) if end else 0)
        parts = []
        if left:
            parts.append(self._pad(left, self.head, at_start=True))
        parts.append(core)
        if right:
            tail = self.buffer[max(0, n - self.pad - 1 - self.buffer_start):]
            parts.append(self._pad(right, tail, at_start=False))
        return np.concatenate(parts)

    def drop_before(self, frame):
        """Forget the samples that frames ``frame, ...`` (and the end's padding) never read."""
        keep = max(0, min(frame * self.hop - self.pad, self.n_samples - self.n_fft - 1))
        if keep > self.buffer_start:
            self.buffer = self.buffer[keep - self.buffer_start:].copy()
            self.buffer_start = keep

    def _pad(self, size, samples, *, at_start):
        """``size`` padding samples before the first of ``samples`` (``at_start``) or after
        the last, as the transformer pads."""
        if self.pad_mode == "constant" or len(samples) == 0:
            return np.zeros(size, dtype=np.float32)
        if self.pad_mode == "edge":
            return np.repeat(samples[:1] if at_start else samples[-1:], size)
        if at_start:  # reflect: x[1:size + 1] mirrored
            return samples[1:size + 1][::-1]
        return samples[-1 - size:-1][::-1]  # x[n - 1 - size:n - 1] mirrored

"""The transformer's path on a CUDA device: few, large kernels and overlapped copies.

The CPU path of :class:`~sk_crnn.MelSpectrogramTransformer` (``MelFrontEnd.features``) cuts
the STFT into cache-sized blocks of frames and projects each group of mel filters from its
own FFT bins: many small operations, right for a CPU, but on a GPU each is a kernel launch
and the device idles between them. Here a chunk of clips is computed in whole-chunk
kernels, in the same order of operations as the CPU path, so the values are the same up to
float32 rounding:

1. pad (``center``) and frame the chunk, one real FFT of all its frames (``unfold`` +
   ``torch.fft.rfft``);
2. the power (squares in place) and one mel projection (one matrix product);
3. the dB / log scale, ``top_db`` and ``ref`` per clip in place (``MelFrontEnd._scale``),
   the DCT of MFCCs (one matrix product) and the band normalisation in place;
4. one copy that transposes to ``(n_clips, n_bands, n_frames)`` and casts to the output
   dtype (float16 is cast on the device: half the bytes to copy back).

The clips go through two pinned host buffers used in turn: while the device computes chunk
``i``, the host fills the buffer of chunk ``i + 1`` (zero padding or cropping to the fitted
length) and a second CUDA stream uploads it, and the features of chunk ``i - 1`` come back
into pinned memory (``non_blocking`` copies) and are copied into the output array. The chunk
is sized from the clip length and the device's free memory (:func:`chunk_size`).

:func:`compute_batched` runs the same code on the CPU (plain buffers, no streams, chunks
of ``batch_size`` clips), which is how its values are tested on machines without CUDA:
:data:`BATCHED_ON_CPU` routes the transformer's CPU computation through it.
"""

import contextlib

import numpy as np
import torch
from tqdm.auto import tqdm

from .features import PAD_MODES

#: Input audio per chunk, in bytes (32 MiB: 524 one-second clips at 16 kHz): several chunks
#: per call, so that copies overlap computation, yet whole-device kernels.
STAGE_BYTES = 32 << 20
#: Largest share of the device's free memory (with torch's cached blocks) one chunk may use.
MEMORY_FRACTION = 0.25
#: Private switch for the tests: run this path on the CPU too (see the module docstring).
BATCHED_ON_CPU = False


def runs_batched(device):
    """Whether the transformer computes on ``device`` (a torch.device) with this path."""
    return device.type == "cuda" or BATCHED_ON_CPU


def chunk_size(plan, n_samples, n_clips, batch_size):
    """Clips per chunk on ``plan.device``.

    On a CUDA device: at most :data:`STAGE_BYTES` of float32 input and at most
    :data:`MEMORY_FRACTION` of the free device memory for the chunk's temporaries (the input
    buffers, padded signal, frames, spectrum, power, mel and output); at least 1 and at most
    ``n_clips``. On the CPU: ``batch_size``, as on the CPU path.

    Parameters
    ----------
    plan : sk_crnn.features.MelFrontEnd
    n_samples : int
        The fitted clip length.
    n_clips, batch_size : int

    Returns
    -------
    size : int
    """
    if plan.device.type != "cuda":
        return max(1, min(batch_size, n_clips))
    n_frames, n_fft = plan.n_frames(n_samples), plan.n_fft
    n_freq, n_mels = n_fft // 2 + 1, plan.mel_t.shape[1]
    per_clip = 4 * (3 * n_samples + n_fft + n_frames * (n_fft + 3 * n_freq + 4 * n_mels))
    free, _ = torch.cuda.mem_get_info(plan.device)
    free += torch.cuda.memory_reserved(plan.device) - torch.cuda.memory_allocated(plan.device)
    by_memory = int(MEMORY_FRACTION * free) // per_clip
    by_staging = STAGE_BYTES // (4 * n_samples)
    return int(max(1, min(n_clips, by_memory, by_staging)))


def batched_features(plan, x, normalize):
    """Features of a chunk of equal-length clips in whole-chunk kernels, frames first.

    Parameters
    ----------
    plan : sk_crnn.features.MelFrontEnd
    x : torch.Tensor of shape (batch, n_samples), float32, on ``plan.device``
        Already zero-padded or cropped to the fitted length.
    normalize : bool
        Apply the band statistics of ``plan``.

    Returns
    -------
    features : torch.Tensor of shape (batch, n_frames, n_bands), float32
        What ``plan.features`` (and ``plan.normalized``) give, up to float32 rounding.
    """
    n_fft, hop, n = plan.n_fft, plan.hop_length, x.shape[-1]
    n_frames = plan.n_frames(n)
    length = (n_frames - 1) * hop + n_fft  # the samples the frames cover
    if plan.center:  # the CPU path's padding: n_fft // 2 on the left, what the frames need right
        left = n_fft // 2
        x = torch.nn.functional.pad(x, (left, max(0, length - left - n)),
                                    mode=PAD_MODES[plan.pad_mode])
    frames = x[:, :length].unfold(-1, n_fft, hop)  # (batch, n_frames, n_fft), a view
    parts = torch.view_as_real(torch.fft.rfft(frames * plan.window, dim=-1))
    parts.square_()
    power = parts[..., 0] + parts[..., 1]  # |X|^2, (batch, n_frames, n_freq)
    del parts, frames
    if plan.power != 2.0:
        power.pow_(plan.power / 2.0)
    feats = plan._scale(torch.matmul(power, plan.mel_t))  # one projection; dB in place
    del power
    if plan.dct_t is not None:
        feats = torch.matmul(feats, plan.dct_t)
    if normalize:
        feats.sub_(plan.band_mean).mul_(plan.band_scale)
    return feats


class _Lanes:
    """Host and device buffers for two chunks in flight, and the CUDA streams and events
    that order their copies (plain buffers and synchronous steps on the CPU)."""

    def __init__(self, device, size, n_samples, out_shape, out_dtype):
        self.cuda = device.type == "cuda"
        self.host_in = [torch.empty((size, n_samples), dtype=torch.float32,
                                    pin_memory=self.cuda) for _ in range(2)]
        self.result = [None, None]
        if not self.cuda:
            return
        self.host_out = [torch.empty((size, *out_shape), dtype=out_dtype, pin_memory=True)
                         for _ in range(2)]
        self.compute = torch.cuda.current_stream(device)
        self.copier = torch.cuda.Stream(device)
        self.copier.wait_stream(self.compute)  # the buffers may reuse memory of earlier work
        self.device_in = [torch.empty((size, n_samples), dtype=torch.float32, device=device)
                          for _ in range(2)]
        for buffer in self.device_in:
            buffer.record_stream(self.copier)
        self.uploaded, self.consumed, self.downloaded = (
            [torch.cuda.Event(), torch.cuda.Event()] for _ in range(3))

    def free_host_in(self, slot):
        """The host input buffer of ``slot``, once its last upload has finished."""
        if self.cuda:
            self.uploaded[slot].synchronize()
        return self.host_in[slot]

    def upload(self, slot, rows):
        """The first ``rows`` clips of the host buffer of ``slot`` on the device; the compute
        stream waits for them."""
        if not self.cuda:
            return self.host_in[slot][:rows]
        with torch.cuda.stream(self.copier):
            self.copier.wait_event(self.consumed[slot])  # the chunk before has been computed
            x = self.device_in[slot][:rows]
            x.copy_(self.host_in[slot][:rows], non_blocking=True)
            self.uploaded[slot].record(self.copier)
        self.compute.wait_event(self.uploaded[slot])
        return x

    def download(self, slot, feats):
        """Start copying ``feats`` (computed from the input of ``slot``) to the host."""
        if not self.cuda:
            self.result[slot] = feats
            return
        self.consumed[slot].record(self.compute)
        self.result[slot] = self.host_out[slot][:len(feats)]
        self.result[slot].copy_(feats, non_blocking=True)
        self.downloaded[slot].record(self.compute)

    def drain(self, slot, out):
        """Wait for the features of ``slot`` and copy them into ``out`` (numpy, casting)."""
        if self.cuda:
            self.downloaded[slot].synchronize()
        torch.from_numpy(out).copy_(self.result[slot])  # torch's threads; casts to out's dtype
        self.result[slot] = None


def _fill(rows, X, start, n_samples):
    """Write clips ``start:start + len(rows)`` of ``X``, zero-padded or cropped at the end to
    ``n_samples``, into ``rows`` (a float32 tensor of shape (len(rows), n_samples) on the
    host)."""
    stop = start + len(rows)
    clips = [X[start:stop]] if isinstance(X, np.ndarray) else X[start:stop]
    targets = [rows] if isinstance(X, np.ndarray) else rows
    for target, clip in zip(targets, clips):
        m = min(n_samples, clip.shape[-1])
        source = clip[..., :m]
        if source.flags.writeable and min(source.strides) >= 0:
            target[..., :m].copy_(torch.from_numpy(source))  # torch's threads, casting
        else:  # torch.from_numpy would warn about read-only memory
            np.copyto(target[..., :m].numpy(), source, casting="unsafe")
        if m < n_samples:
            target[..., m:].zero_()


def compute_batched(mel, X, out, plan, normalize):
    """Compute the features of ``X`` into ``out``: the transformer's ``_compute`` for a plan
    on which :func:`runs_batched` is true.

    Parameters
    ----------
    mel : sk_crnn.MelSpectrogramTransformer
        Fitted; gives ``n_samples_``, ``batch_size``, ``progress_bar`` and the float64
        recomputation of clips whose float32 powers overflow.
    X : ndarray of shape (n_clips, n_samples) or list of 1-D arrays
        Checked waveforms (``check_waveforms``).
    out : ndarray of shape (n_clips, n_bands, n_frames)
        The output array, in the output dtype.
    plan : sk_crnn.features.MelFrontEnd
    normalize : bool
        Apply the band statistics (when ``plan`` has them).

    Returns
    -------
    out : ndarray
    """
    n_clips, n = out.shape[0], mel.n_samples_
    normalize = normalize and plan.band_mean is not None
    device = plan.device
    size = chunk_size(plan, n, n_clips, mel.batch_size)
    cast = torch.float16 if out.dtype == np.float16 else torch.float32  # float64: on the host
    starts = range(0, n_clips, size)
    if mel.progress_bar:
        starts = tqdm(starts, desc="features", unit="chunk", leave=False)
    sums, pending = [], None
    on_device = torch.cuda.device(device) if device.type == "cuda" else contextlib.nullcontext()
    with torch.inference_mode(), on_device:
        lanes = _Lanes(device, size, n, out.shape[1:], cast)
        for i, start in enumerate(starts):
            slot, rows = i % 2, min(size, n_clips - start)
            _fill(lanes.free_host_in(slot)[:rows], X, start, n)
            feats = batched_features(plan, lanes.upload(slot, rows), normalize)
            result = torch.empty((rows, *out.shape[1:]), dtype=cast, device=device)
            result.copy_(feats.transpose(1, 2))  # one kernel: transpose and cast
            del feats
            sums.append(result.sum(dtype=torch.float64))  # NaN or Inf propagate into it
            lanes.download(slot, result)
            if pending is not None:  # chunk i - 1 while the device works on chunk i
                lanes.drain(pending[0], out[pending[1]:pending[1] + pending[2]])
            pending = (slot, start, rows)
        lanes.drain(pending[0], out[pending[1]:pending[1] + pending[2]])
        finite = torch.isfinite(torch.stack(sums)).cpu().numpy()
        for i in np.flatnonzero(~finite):  # as the CPU path: float64 for the overflowing clips
            start = i * size
            chunk = torch.empty((min(size, n_clips - start), n), dtype=torch.float32)
            _fill(chunk, X, start, n)
            mel._recompute_overflowing(out[start:start + len(chunk)], plan, chunk.to(device),
                                       chunk.numpy(), start, normalize)
    return out


__all__ = ["BATCHED_ON_CPU", "batched_features", "chunk_size", "compute_batched",
           "runs_batched"]

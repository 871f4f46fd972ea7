"""``sk-crnn stream``: a causal model run on audio as it comes in.

The audio is an audio file, read in chunks of ``--chunk-ms`` (as fast as possible, or at the
audio's own pace with ``--realtime``), or ``-``: raw mono PCM on standard input at the model's
sample rate, 16-bit integers or 32-bit floats, little-endian (``--pcm``), such as ``arecord
-f S16_LE -c 1 -r 16000`` or ``ffmpeg -i IN -f s16le -ac 1 -ar 16000 -`` write. Each chunk
goes to :class:`sk_crnn.streaming.Stream`, and what became final is printed at once by the
task's printer (:mod:`sk_crnn.cli.live`, named in :mod:`sk_crnn.cli.tasks`).
"""

import sys
import time

from .common import UserError
from .safety import _load_model
from .tasks import task_of

#: --pcm: numpy dtype of the samples and the scale to [-1, 1)
PCM_FORMATS = {"s16le": ("<i2", 32768.0), "f32le": ("<f4", 1.0)}


def stream_command(args):
    """Run ``sk-crnn stream``; return the exit code."""
    from ..streaming import Stream

    if not args.chunk_ms > 0:
        raise UserError(f"--chunk-ms must be a positive number of milliseconds; got "
                        f"{args.chunk_ms}.")
    if not args.interval > 0:
        raise UserError(f"--interval must be a positive number of seconds; got "
                        f"{args.interval}.")
    if args.input != "-" and not _is_file(args.input):
        raise UserError(f"{args.input!r} does not exist; give an audio file, or - for raw "
                        "PCM on standard input.")
    model = _load_model(args.model, args.allow_pickle)
    task = task_of(model.steps[-1][1])
    if task.live is None:
        raise UserError(f"{args.model!r} holds a {type(model.steps[-1][1]).__name__}, which "
                        "'sk-crnn stream' does not run (it runs event detectors, "
                        "classifiers, regressors and transcribers).")
    stream = Stream(model)  # a ValueError names what the model needs (causal network...)
    size = max(1, round(args.chunk_ms * stream.sr / 1000))
    chunks = (_pcm_chunks(sys.stdin.buffer, args.pcm, size) if args.input == "-"
              else _file_chunks(args.input, stream.sr, size))
    printer = task.live(stream, args)
    start, pushed = time.monotonic(), 0
    for chunk in chunks:
        printer.show(stream.push(chunk))
        pushed += len(chunk)
        if args.realtime:  # wait until the audio pushed so far would have been heard
            time.sleep(max(0.0, start + pushed / stream.sr - time.monotonic()))
    printer.show(stream.flush(), end=True)
    return 0


def _is_file(path):
    from pathlib import Path

    return Path(path).is_file()


def _pcm_chunks(source, pcm, size):
    """Chunks of ``size`` samples of raw PCM read from the binary stream ``source``."""
    import numpy as np

    dtype, scale = PCM_FORMATS[pcm]
    width = np.dtype(dtype).itemsize
    while True:
        data = source.read(size * width)
        if not data:
            return
        whole = len(data) // width * width
        if whole < len(data):
            print(f"sk-crnn stream: warning: standard input ended inside a sample; its last "
                  f"{len(data) - whole} byte(s) are left out.", file=sys.stderr)
        samples = np.frombuffer(data[:whole], dtype=dtype).astype(np.float32)
        yield samples / scale if scale != 1.0 else samples
        if len(data) < size * width:
            return


def _file_chunks(path, sr, size):
    """Chunks of ``size`` mono samples of an audio file at ``sr`` Hz: read block by block
    when the file has that rate, else read whole and resampled (``sk_crnn.load_audio``)."""
    import numpy as np
    import soundfile as sf

    try:
        info = sf.info(path)
    except Exception:  # noqa: BLE001 - not a file soundfile reads: load_audio says why
        info = None
    if info is not None and info.samplerate == sr:
        with sf.SoundFile(path) as f:
            while True:
                block = f.read(size, dtype="float32", always_2d=True)
                if not len(block):
                    return
                yield block.mean(axis=1) if block.shape[1] > 1 else block[:, 0]
    from ..io._files import AudioFileError, read_audio_files

    try:
        waves, _, _ = read_audio_files([path], None, on_error="raise", progress_bar=False,
                                       sr=sr)
    except AudioFileError as exc:
        raise UserError(f"could not read audio file '{exc.path}': {exc.reason}.") from exc
    wave = np.asarray(waves[0], dtype=np.float32)
    for start in range(0, len(wave), size):
        yield wave[start:start + size]

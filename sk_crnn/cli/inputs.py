"""Files to waveforms for the ``sk-crnn`` commands: the files and folders named on the command
line, class-per-folder training data, transcript manifests, and the files ``predict`` streams.

The reading itself is :mod:`sk_crnn.io`'s (and :mod:`sk_crnn.datasets`',
:func:`sk_crnn.transcription.read_manifest`); here its errors become one-line
:class:`~sk_crnn.cli.common.UserError` messages, and ``--on-error skip`` is reported.
"""

import sys
from pathlib import Path

from .common import UserError

AUDIO_SUFFIXES = (".wav", ".flac", ".ogg", ".mp3")


def _show_progress(model, quiet):
    """Progress bars (on stderr, when it is a terminal) while a loaded model computes
    features; none with --quiet."""
    from ..transformers import MelSpectrogramTransformer

    for _, step in model.steps[1:-1]:
        if isinstance(step, MelSpectrogramTransformer):
            step.progress_bar = not quiet and sys.stderr.isatty()


def _collect_files(inputs):
    from ..io._folders import find_audio_files

    files = []
    for item in inputs:
        p = Path(item)
        if p.is_dir():
            found = find_audio_files(p, AUDIO_SUFFIXES)
            if not found:
                raise UserError(
                    f"folder {item!r} holds no audio files ({', '.join(AUDIO_SUFFIXES)}).")
            files.extend(found)
        elif p.is_file():
            files.append(p)
        else:
            raise UserError(f"{item!r} does not exist.")
    return [str(f) for f in files]


def _read_audio(paths, args, *, loader=None, allow_none=False, **settings):
    """Waveforms of ``paths`` and the paths read (:func:`sk_crnn.io.read_audio_files`, as
    ``loader`` reads files when given); with --on-error skip, unreadable files are left out
    and reported on stderr."""
    from ..io._files import AudioFileError, read_audio_files

    try:
        waves, kept, skipped = read_audio_files(
            paths, loader, on_error=args.on_error,
            progress_bar=False if args.quiet else None, **settings)
    except AudioFileError as exc:
        raise UserError(f"could not read audio file '{exc.path}': {exc.reason}. Check the "
                        "file, or pass --on-error skip to leave out the files that cannot be "
                        "read.") from exc
    if skipped:
        print(f"sk-crnn {args.command}: skipped {len(skipped)} of {len(paths)} files that "
              f"could not be read: {', '.join(skipped)}", file=sys.stderr)
    if not waves and not allow_none:
        raise UserError("none of the files could be read.")
    return waves, kept


def _loader_audio(model, paths, args, allow_none=False):
    """:func:`_read_audio` as the model's ``AudioLoader`` reads files."""
    return _read_audio(paths, args, loader=model.steps[0][1], allow_none=allow_none)


# -- training data ------------------------------------------------------------------------------
def _load_folder(root, sr, args):
    import numpy as np

    from ..datasets import load_audio_folder

    path = Path(root)
    if path.is_file():
        raise UserError(f"data folder {str(root)!r} is a file; pass a folder that holds one "
                        "sub-folder of audio files per class.")
    if not path.is_dir():
        raise UserError(f"data folder {str(root)!r} does not exist.")
    bunch = load_audio_folder(root, sr=sr, load=False)
    labels = np.asarray([bunch.target_names[t] for t in bunch.target])
    waves, kept = _read_audio(list(bunch.data), args, sr=sr)
    if len(kept) < len(labels):
        labels = labels[np.isin(bunch.data, kept)]
    return bunch, waves, labels


def _load_manifest(manifest, sr, args):
    """Waveforms and transcripts of the files a transcript manifest lists (see
    :func:`sk_crnn.transcription.read_manifest`)."""
    from ..transcription import read_manifest

    if Path(manifest).is_dir():
        raise UserError(f"--task transcribe reads a manifest file, but {str(manifest)!r} is a "
                        "folder; pass the CSV/TSV file with the columns path and transcript.")
    try:
        paths, transcripts = read_manifest(manifest)
    except ValueError as exc:
        raise UserError(str(exc)) from exc
    waves, kept = _read_audio(paths, args, sr=sr)
    kept = set(kept)
    return waves, [t for p, t in zip(paths, transcripts) if p in kept]


def class_folders(args):
    """Training data of a class-per-folder tree: waveforms, labels and what was loaded."""
    bunch, waves, labels = _load_folder(args.data_dir, args.sr, args)
    return waves, labels, (f"Loaded {len(waves)} files in {len(bunch.target_names)} classes "
                           f"from {args.data_dir}.")


def transcript_manifest(args):
    """Training data of a transcript manifest: waveforms, transcripts and what was loaded."""
    import numpy as np

    waves, labels = _load_manifest(args.data_dir, args.sr, args)
    return (waves, np.asarray(labels, dtype=object),
            f"Loaded {len(waves)} files with transcripts from {args.data_dir}.")


# -- files to predict ---------------------------------------------------------------------------
def _seconds(path):
    import soundfile as sf

    return sf.info(path).duration


def _predict_audio(model, files, args, *, stream):
    """Waveforms of the files to predict, and the files kept. With ``stream``, a file longer
    than the training clips that soundfile reads at the model's rate (the loader reads it
    whole, mono, from its start) stays a path: ``sk_crnn.windows`` reads it in blocks, so
    an hour-long file is never in memory as a whole."""
    import soundfile as sf

    loader, mel = model.steps[0][1], model.steps[1][1]
    streamed = set()
    if stream and not getattr(loader, "offset", 0.0) and getattr(loader, "mono", True) and (
            getattr(loader, "duration", None) is None):
        for path in files:
            try:
                info = sf.info(path)
            except Exception:  # noqa: BLE001 - read (and reported) as usual below
                continue
            if (loader.sr or info.samplerate) == mel.sr and info.frames > mel.n_samples_ * (
                    info.samplerate / mel.sr):
                streamed.add(path)
    rest = [path for path in files if path not in streamed]
    waves, kept = (_loader_audio(model, rest, args, allow_none=bool(streamed)) if rest
                   else ([], []))
    found = {**dict(zip(kept, waves)), **{path: path for path in streamed}}
    files = [path for path in files if path in found]
    return [found[path] for path in files], files

"""Folders to audio files: :func:`find_audio_files` (what the sk-crnn command and
:func:`load_audio_folder` share) and :func:`load_audio_folder`, for a data set stored as one
sub-folder per class (published as :func:`sk_crnn.datasets.load_audio_folder`)."""

import os
import warnings
from pathlib import Path

import numpy as np
from sklearn.utils import Bunch, check_random_state

from .._validation import BOOL, Options, validate_args
from ._files import LOAD_PARAMETERS, load_audio


def find_audio_files(folder, suffixes):
    """Audio files anywhere below ``folder``, sorted by path.

    Links to folders are followed, each real folder is searched once (a link back to a
    folder already searched, such as a loop, is skipped with a warning), and hidden files
    and folders (names starting with ``"."``) are ignored, as are broken links (with a
    warning). The sk-crnn command finds files with it.
    """
    suffixes = {s.lower() for s in suffixes}
    found, seen = [], {}
    for dirpath, dirnames, names in os.walk(folder, followlinks=True):
        try:
            st = os.stat(dirpath)
        except OSError:
            continue
        key = (st.st_dev, st.st_ino)
        if key in seen:
            warnings.warn(
                f"Skipped '{dirpath}': it links to '{seen[key]}', a folder already searched "
                "(following it again would count its files twice, or loop forever).",
                UserWarning, stacklevel=3)
            dirnames[:] = []
            continue
        seen[key] = dirpath
        dirnames[:] = [name for name in dirnames if not name.startswith(".")]
        for name in names:
            path = Path(dirpath, name)
            if name.startswith(".") or path.suffix.lower() not in suffixes:
                continue
            if path.is_file():
                found.append(path)
            elif path.is_symlink():
                warnings.warn(f"Skipped '{path}': a link to a file that does not exist.",
                              UserWarning, stacklevel=3)
    return sorted(found)


@validate_args({"sr": LOAD_PARAMETERS["sr"], "load": BOOL, "n_jobs": LOAD_PARAMETERS["n_jobs"],
                "on_error": Options("raise", "skip"), "shuffle": BOOL})
def load_audio_folder(root, *, sr=22050, load=True, extensions=(".wav", ".flac", ".ogg", ".mp3"),
                      n_jobs=None, on_error="raise", shuffle=False, random_state=None):
    """Load a labelled audio data set stored as one sub-folder per class.

    The layout is that of ``sklearn.datasets.load_files`` and torchvision's ``ImageFolder``::

        root/
            dog/  bark_01.wav  bark_02.flac ...
            cat/  meow_01.wav  more/meow_02.ogg ...

    Class names are the sub-folder names, sorted; ``target[i]`` is the index of the class of
    ``filenames[i]``. Audio files are searched recursively in each class folder, following
    links to folders (each real folder once: a link back to a folder already searched is
    skipped with a warning); files are sorted by path, and hidden files and folders (names
    starting with ``"."``) are ignored, as are files directly under ``root``.

    Parameters
    ----------
    root : str or path-like
        The folder holding one sub-folder per class.
    sr : float or None, default=22050
        Sample rate the audio is resampled to; ``None`` keeps each file's native rate.
    load : bool, default=True
        Read the audio (with :func:`sk_crnn.io.load_audio`). ``False`` puts the file paths in
        ``data`` instead, ready for a Pipeline that starts with :class:`sk_crnn.io.AudioLoader`.
    extensions : sequence of str, default=(".wav", ".flac", ".ogg", ".mp3")
        File suffixes counted as audio (case-insensitive).
    n_jobs : int or None, default=None
        Files decoded in parallel threads; ``None`` means 1, ``-1`` all cores.
    on_error : {"raise", "skip"}, default="raise"
        With ``load=True``, what to do with a file that cannot be read or holds no samples:
        ``"raise"`` a ``ValueError`` naming it, or ``"skip"`` it with a warning naming it;
        a skipped file is left out of ``data``, ``target`` and ``filenames`` alike.
    shuffle : bool, default=False
        Shuffle the files (with ``random_state``) instead of ordering them by class and path.
    random_state : int, RandomState instance or None, default=None
        Seed of the shuffle.

    Returns
    -------
    data : Bunch
        Dictionary-like object with the fields:

        data : list of ndarray or ndarray of str of shape (n_files,)
            Float32 mono waveforms of shape ``(n_samples,)`` at ``sr`` Hz; the file paths
            when ``load=False``.
        target : ndarray of int of shape (n_files,)
            Class index of each file.
        target_names : list of str
            Sorted class names; ``target_names[target[i]]`` is the class of file ``i``.
        filenames : ndarray of str of shape (n_files,)
            Path of each file.
        sr : float or None
            The ``sr`` argument.

    Raises
    ------
    ValueError
        If ``root`` is not a folder, holds no class sub-folder, or a class sub-folder holds
        no audio file; or (with ``load=True`` and ``on_error="raise"``) if a file cannot be
        read (the message names it).

    See Also
    --------
    sk_crnn.io.load_audio : Read a list of files.

    Examples
    --------
    >>> import numpy as np, soundfile as sf, tempfile, os
    >>> from sk_crnn.datasets import load_audio_folder
    >>> root = tempfile.mkdtemp()
    >>> for name in ["cat", "dog"]:
    ...     os.makedirs(os.path.join(root, name))
    ...     sf.write(os.path.join(root, name, "a.wav"), np.zeros(8000), 8000)
    >>> ds = load_audio_folder(root, sr=16000)
    >>> ds.target_names, ds.target.tolist(), ds.data[0].shape
    (['cat', 'dog'], [0, 1], (16000,))
    """
    root = Path(root)
    if not root.is_dir():
        what = "is a file" if root.exists() else "does not exist"
        raise ValueError(f"root='{root}' {what}; pass a folder that holds one sub-folder of "
                         "audio files per class.")
    if isinstance(extensions, str):
        extensions = (extensions,)
    suffixes = {e.lower() if e.startswith(".") else f".{e.lower()}" for e in extensions}
    if not suffixes:
        raise ValueError("extensions is empty; pass audio file suffixes such as ('.wav',).")
    class_dirs = sorted(d for d in root.iterdir() if d.is_dir() and not d.name.startswith("."))
    if not class_dirs:
        raise ValueError(f"'{root}' has no sub-folders; put the audio files of each class in a "
                         "sub-folder named after the class (root/<class>/<file>.wav).")
    filenames, target = [], []
    for label, d in enumerate(class_dirs):
        files = find_audio_files(d, suffixes)
        if not files:
            raise ValueError(f"Class folder '{d}' holds no audio file with a suffix in "
                             f"{sorted(suffixes)}; add files, remove the folder, or pass the "
                             "suffixes of your files as extensions.")
        filenames.extend(str(f) for f in files)
        target.extend([label] * len(files))
    filenames = np.array(filenames, dtype=str)
    target = np.array(target, dtype=np.intp)
    if shuffle:
        order = check_random_state(random_state).permutation(len(filenames))
        filenames, target = filenames[order], target[order]
    if not load:
        data = filenames.copy()
    else:
        data, skipped = load_audio(filenames, sr=sr, n_jobs=n_jobs, on_error=on_error,
                                   return_skipped=True)
        if skipped:
            kept = ~np.isin(filenames, skipped)
            filenames, target = filenames[kept], target[kept]
    return Bunch(data=data, target=target, target_names=[d.name for d in class_dirs],
                 filenames=filenames, sr=sr)

"""Audio files to waveforms: files, folders and manifests.

:func:`load_audio` reads a list of files and :class:`AudioLoader` does the same as the first
step of a Pipeline. The parts live in private modules: ``_files`` (decoding, the reading
parameters, :func:`read_audio_files` for the command line), ``_loader`` (``AudioLoader``),
``_folders`` (finding audio files below a folder; ``sk_crnn.datasets.load_audio_folder``)
and ``_manifests`` (``sk_crnn.transcription.read_manifest`` and UTF-8/UTF-16 text reading).
"""

from ._files import load_audio
from ._loader import AudioLoader

__all__ = ["AudioLoader", "load_audio"]

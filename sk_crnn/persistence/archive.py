"""The model file as a container: one zip archive of four parts, checksums, atomic writes.

- ``manifest.json`` (first, so that :func:`sniff` finds it): the format name and version, the
  library versions and the SHA-256 of each of the three other parts;
- ``model.json``: the tree of steps, classes (by registry tag), parameters and fitted state;
- ``arrays.safetensors``: numeric numpy arrays; ``weights.safetensors``: torch tensors.

Nothing here knows what a model is; :mod:`.reader` and :mod:`.writer` do.
"""

import contextlib
import hashlib
import json
import os
import tempfile
import zipfile
from pathlib import Path

import numpy as np

FORMAT = "sk-crnn-model"
#: Version 2 names classes by registry tag ("torch.optim.Adam"); version 1 named them by
#: "module:qualname", which :func:`sk_crnn.load` still reads through a lookup table.
FORMAT_VERSION = 2
READABLE_VERSIONS = (1, 2)
SUFFIX = ".skcrnn"
MEMBERS = ("model.json", "arrays.safetensors", "weights.safetensors")
#: The most elements any one array or tensor of a file may claim.
MAX_ELEMENTS = 2 ** 28


class ModelFileError(ValueError):
    """A file that :func:`sk_crnn.load` cannot read as an sk_crnn model: not one, corrupted,
    truncated, from a newer version, naming a class outside the registry, or describing a
    model that does not match its own weights."""


def corrupted(path, what):
    return ModelFileError(
        f"'{path}' is corrupted or truncated ({what}); it cannot be loaded. Copy the file "
        "again from its source, or save the model again."
    )


def sniff(path):
    """What kind of file ``path`` is, from its first bytes: ``"sk-crnn"``, ``"pickle"``
    (pickle, joblib or torch.save, all of which can run code when loaded) or ``"unknown"``."""
    with open(path, "rb") as f:
        head = f.read(64)
    if head.startswith(b"PK\x03\x04"):
        # save() writes manifest.json first: its name follows the first local header, even
        # in a truncated file
        name_length = int.from_bytes(head[26:28], "little")
        if head[30:30 + name_length] == b"manifest.json":
            return "sk-crnn"
        try:
            with zipfile.ZipFile(path) as archive:
                names = archive.namelist()
        except PermissionError:
            raise
        except Exception:  # noqa: BLE001 - a broken archive of any kind
            return "unknown"
        if "manifest.json" in names:
            return "sk-crnn"
        if any(name.endswith(".pkl") for name in names):  # torch.save's zip holds a pickle
            return "pickle"
        return "unknown"
    if head[:1] == b"\x80" and head[1:2] in (b"\x02", b"\x03", b"\x04", b"\x05"):
        return "pickle"
    # joblib's compressed pickles: zlib, gzip, bz2, xz, lzma, lz4
    if head[:2] in (b"\x78\x01", b"\x78\x5e", b"\x78\x9c", b"\x78\xda", b"\x1f\x8b") or \
            head.startswith((b"BZh", b"\xfd7zXZ", b"\x5d\x00\x00", b"\x04\x22\x4d\x18")):
        return "pickle"
    return "unknown"


def atomic_write(path, data):
    """Write ``data`` (bytes, or a function of a binary file) to ``path`` through a temporary
    file in the same folder, renamed over ``path`` only once complete."""
    path = Path(path)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as f:
            if callable(data):
                data(f)
            else:
                f.write(data)
            f.flush()
            os.fsync(f.fileno())
        umask = os.umask(0)
        os.umask(umask)
        os.chmod(tmp, 0o666 & ~umask)  # mkstemp makes 0600 files; use the usual mode
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise


def check_target(path, given):
    """Refuse, naming the path given, a target that is a folder or lies in a missing one."""
    if path.is_dir():
        raise IsADirectoryError(
            f"sk_crnn.save: {str(given)!r} is a folder; give the name of the file to write "
            f"in it, for example {str(path / ('model' + SUFFIX))!r}.")
    parent = path.parent
    if not parent.exists():
        raise FileNotFoundError(
            f"sk_crnn.save: the folder {str(parent)!r} of {str(given)!r} does not exist; "
            "create it first (os.makedirs) or give another path.")
    if not parent.is_dir():
        raise NotADirectoryError(
            f"sk_crnn.save: {str(parent)!r} in {str(given)!r} is a file, not a folder.")


def _versions():
    import sklearn
    import skorch
    import torch

    from .. import __version__

    return {"sk_crnn": __version__, "scikit-learn": sklearn.__version__,
            "skorch": skorch.__version__, "torch": torch.__version__, "numpy": np.__version__}


def write_archive(path, tree, arrays, tensors):
    """Write the model tree and its arrays and tensors to ``path`` (atomically)."""
    from safetensors.numpy import save as save_arrays
    from safetensors.torch import save as save_tensors

    parts = {
        "model.json": json.dumps(tree, indent=1, allow_nan=False).encode("utf-8"),
        "arrays.safetensors": save_arrays(arrays),
        "weights.safetensors": save_tensors(tensors),
    }
    versions = _versions()
    manifest = {
        "format": FORMAT,
        "format_version": FORMAT_VERSION,
        "sk_crnn_version": versions["sk_crnn"],
        "versions": versions,
        "sha256": {name: hashlib.sha256(data).hexdigest() for name, data in parts.items()},
    }

    def write(f):
        with zipfile.ZipFile(f, "w", compression=zipfile.ZIP_STORED) as archive:
            archive.writestr("manifest.json", json.dumps(manifest, indent=1))  # first: sniff()
            for name, data in parts.items():
                archive.writestr(name, data)

    atomic_write(path, write)


def _open(path):
    try:
        return zipfile.ZipFile(path)
    except PermissionError:
        raise
    except Exception as exc:  # noqa: BLE001 - zipfile raises several types for broken files
        if sniff(path) == "pickle":
            raise ModelFileError(
                f"'{path}' is a pickle or joblib file, not an sk_crnn model file; loading a "
                "pickle can run any code it holds. Load it with joblib.load only if you trust "
                "its source, then store it with sk_crnn.save."
            ) from None
        with open(path, "rb") as f:
            looks_like_zip = f.read(2) == b"PK"
        if looks_like_zip:
            raise corrupted(path, f"not a complete zip archive: {exc}") from None
        raise ModelFileError(
            f"'{path}' is not an sk_crnn model file (sk_crnn.save writes them); "
            f"{type(exc).__name__}: {exc}"
        ) from None


def _check_manifest(path, manifest):
    if manifest.get("format") != FORMAT:
        raise ModelFileError(
            f"'{path}' is a zip archive, but not an sk_crnn model file (its manifest names "
            f"the format {manifest.get('format')!r})."
        )
    version = manifest.get("format_version")
    if type(version) is not int or version not in READABLE_VERSIONS:
        raise ModelFileError(
            f"'{path}' has model format version {version!r} (written by sk_crnn "
            f"{manifest.get('sk_crnn_version', '?')}); this sk_crnn reads versions "
            f"{', '.join(map(str, READABLE_VERSIONS))}. Upgrade sk_crnn to load it."
        )
    checksums = manifest.get("sha256")
    if not isinstance(checksums, dict) or set(checksums) != set(MEMBERS):
        raise corrupted(path, "the manifest lists no checksums of its parts")


def read_archive(path):
    """The manifest and the three parts (bytes) of the model file ``path``, checked."""
    size = path.stat().st_size
    with _open(path) as archive:
        names = set(archive.namelist())
        if "manifest.json" not in names:
            what = "a pickle written by torch.save" if any(
                n.endswith(".pkl") for n in names) else "a zip archive without manifest.json"
            raise ModelFileError(
                f"'{path}' is {what}, not an sk_crnn model file (sk_crnn.save writes them)."
            )
        for info in archive.infolist():
            if info.file_size > size:  # stored uncompressed: no part is larger than the file
                raise corrupted(path, f"the part {info.filename} claims {info.file_size} bytes")
        try:
            manifest = json.loads(archive.read("manifest.json"))
            if not isinstance(manifest, dict):
                raise ValueError("the manifest is not a JSON object")
        except Exception as exc:  # noqa: BLE001
            raise corrupted(path, f"manifest.json: {exc}") from None
        _check_manifest(path, manifest)
        parts = {}
        for name in MEMBERS:
            if name not in names:
                raise corrupted(path, f"the part {name} is missing")
            try:
                data = archive.read(name)
            except Exception as exc:  # noqa: BLE001 - bad CRC, header, size, method...
                raise corrupted(path, f"{name}: {exc}") from None
            if hashlib.sha256(data).hexdigest() != manifest["sha256"][name]:
                raise corrupted(path, f"the SHA-256 checksum of {name} does not match")
            parts[name] = data
    return manifest, parts


_ITEMSIZE = {"BOOL": 1, "U8": 1, "I8": 1, "F8_E5M2": 1, "F8_E4M3": 1, "I16": 2, "U16": 2,
             "F16": 2, "BF16": 2, "I32": 4, "U32": 4, "F32": 4, "I64": 8, "U64": 8, "F64": 8,
             "C64": 8}


def read_header(data, name):
    """``{key: (dtype, shape)}`` from the header of safetensors bytes, without reading any
    tensor: an 8-byte little-endian length, then that many bytes of JSON."""
    if len(data) < 8:
        raise ValueError(f"{name} is shorter than a safetensors header")
    n = int.from_bytes(data[:8], "little")
    if n > len(data) - 8:
        raise ValueError(f"{name} claims a header of {n} bytes")
    header = json.loads(bytes(data[8:8 + n]))
    if not isinstance(header, dict):
        raise ValueError(f"the header of {name} is not a JSON object")
    body = len(data) - 8 - n
    entries = {}
    for key, entry in header.items():
        if key == "__metadata__":
            continue
        if not isinstance(entry, dict):
            raise ValueError(f"{name}: the entry {key!r} is not a JSON object")
        dtype, shape, offsets = entry.get("dtype"), entry.get("shape"), entry.get("data_offsets")
        if dtype not in _ITEMSIZE or not isinstance(shape, list) or not all(
                type(s) is int and s >= 0 for s in shape):
            raise ValueError(f"{name}: the entry {key!r} has dtype {dtype!r}, shape {shape!r}")
        numel = int(np.prod(shape, dtype=object)) if shape else 1
        if numel > MAX_ELEMENTS:
            raise ValueError(f"{name}: {key!r} claims {numel} elements (at most "
                             f"{MAX_ELEMENTS} are allowed)")
        if (not isinstance(offsets, list) or len(offsets) != 2
                or not all(type(o) is int for o in offsets)
                or not 0 <= offsets[0] <= offsets[1] <= body
                or offsets[1] - offsets[0] != numel * _ITEMSIZE[dtype]):
            raise ValueError(f"{name}: the data offsets of {key!r} do not fit its shape")
        entries[key] = (dtype, tuple(shape))
    return entries

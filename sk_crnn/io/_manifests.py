"""Manifests to paths and transcripts: :func:`read_manifest`, and the encoding-aware text
reading (:func:`read_text`) it shares."""

import codecs
import csv
from io import StringIO
from pathlib import Path

#: Column names of the transcript in a manifest (Common Voice names it "sentence").
TRANSCRIPT_COLUMNS = ("transcript", "sentence", "text")


def read_manifest(path):
    """Audio paths and transcripts from a manifest file, as Common Voice ships them.

    A CSV (``.csv``) or tab-separated (``.tsv``, as Common Voice's ``validated.tsv``) table
    with a header row that names a ``path`` column and a transcript column (``transcript``,
    ``sentence`` or ``text``); other columns are ignored. Relative paths are read from the
    manifest's folder, or from its ``clips/`` sub-folder where Common Voice keeps them. The
    file is UTF-8 text, with or without a byte-order mark (Excel's "CSV UTF-8"); a UTF-16
    file with its byte-order mark is read too.

    Parameters
    ----------
    path : str or path-like
        The manifest file.

    Returns
    -------
    paths : list of str
        The audio files, one per row.
    transcripts : list of str
        Their transcripts (may be empty strings, for clips without speech).

    Raises
    ------
    ValueError
        For a missing file, a header without the columns, a short row, or text in another
        encoding (such as latin-1): the message names the file and the fix.
    """
    path = Path(path)
    if not path.is_file():
        raise ValueError(f"manifest {str(path)!r} does not exist or is not a file; pass a "
                         "CSV/TSV file with the columns path and transcript (or sentence).")
    delimiter = "\t" if path.suffix.lower() == ".tsv" else ","
    text = read_text(path, "manifest")  # UTF-8 (a BOM is dropped); a clear error otherwise
    rows = list(csv.reader(StringIO(text, newline=""), delimiter=delimiter))
    header = [h.strip().lower() for h in rows[0]] if rows else []
    text_col = next((c for c in TRANSCRIPT_COLUMNS if c in header), None)
    if "path" not in header or text_col is None:
        raise ValueError(
            f"manifest {str(path)!r} needs a header row naming a 'path' column and a "
            f"'transcript' (or 'sentence') column, {'tab' if delimiter == chr(9) else 'comma'}"
            f"-separated; its first row is {rows[0] if rows else []!r}.")
    i_path, i_text = header.index("path"), header.index(text_col)
    paths, transcripts = [], []
    for n, row in enumerate(rows[1:], start=2):
        if not any(cell.strip() for cell in row):
            continue  # blank line
        if len(row) <= max(i_path, i_text):
            raise ValueError(f"manifest {str(path)!r}, line {n}: {len(row)} column(s), but "
                             f"the header names {len(header)}: {row!r}.")
        audio = Path(row[i_path].strip())
        if not audio.is_absolute():
            audio = next((p for p in (path.parent / audio, path.parent / "clips" / audio)
                          if p.exists()), path.parent / audio)
        paths.append(str(audio))
        transcripts.append(row[i_text])
    if not paths:
        raise ValueError(f"manifest {str(path)!r} lists no audio files.")
    return paths, transcripts


def read_text(path, what="file"):
    """The text of a UTF-8 file (with or without the byte-order mark that Excel's "CSV UTF-8"
    writes; a UTF-16 file with its byte-order mark, Excel's "Unicode Text", is read too).

    Raises a ``ValueError`` naming the file, the line and the fix for text in another
    encoding (latin-1, cp1252: what Excel's plain "CSV" writes)."""
    path = Path(path)
    data = path.read_bytes()
    utf16 = data.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE))
    try:
        return data.decode("utf-16" if utf16 else "utf-8-sig")
    except UnicodeDecodeError as exc:
        line = data[:exc.start].count(b"\n") + 1
        guess = ("it starts with a UTF-16 byte-order mark but is cut short or damaged" if utf16
                 else "the file was probably saved as latin-1/Windows-1252, what Excel's plain "
                 "'CSV' writes")
        raise ValueError(
            f"{what} {str(path)!r} is not {'UTF-16' if utf16 else 'UTF-8'} text: line {line} "
            f"holds the byte 0x{data[exc.start]:02x}, which cannot be decoded ({guess}). Save "
            "it as UTF-8 (in Excel: 'CSV UTF-8'), or convert it, for example with iconv -f "
            f"{'utf-16' if utf16 else 'cp1252'} -t utf-8 {path.name} > utf8-{path.name}"
        ) from None

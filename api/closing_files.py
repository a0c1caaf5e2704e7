"""A results bundle's files: ``results.json``, the jury reports and ``MANIFEST.sha256``.

Every file follows from the bundle alone: ``results.json`` is its canonical JSON (so its
SHA-256 is the bundle's, ``closing.bundle_sha256``), the jury reports are drawn from it
(``api.reports.jury_pdf``, reproducibly: the same bundle gives the same bytes with the same
reportlab) and the manifest lists the SHA-256 of each in ``sha256sum`` format, so
``sha256sum -c MANIFEST.sha256`` checks a directory.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import tempfile
from pathlib import Path

from api.reports.jury_pdf import render_jury_pdf
from ingest.store.closing import bundle_json, bundle_sha256

RESULTS = "results.json"
MANIFEST = "MANIFEST.sha256"
JURY_REPORTS = {"sv": "jury-report-sv.pdf", "en": "jury-report-en.pdf"}


def bundle_files(bundle: dict) -> dict[str, bytes]:
    """File name → bytes of the bundle directory, the manifest included."""
    sha = bundle_sha256(bundle)
    files = {RESULTS: bundle_json(bundle)}
    for lang, name in JURY_REPORTS.items():
        files[name] = render_jury_pdf(bundle, lang, sha)
    files[MANIFEST] = manifest_text(files).encode("ascii")
    return files


def manifest_text(files: dict[str, bytes]) -> str:
    """``<sha256 hex>  <name>`` per file (``sha256sum``'s format), in name order."""
    return "".join(
        f"{hashlib.sha256(data).hexdigest()}  {name}\n"
        for name, data in sorted(files.items())
        if name != MANIFEST
    )


def write_bundle_dir(out: Path, files: dict[str, bytes]) -> None:
    """Write ``files`` to the directory ``out`` (made when missing) all or none: into a new
    directory beside it first. ``FileExistsError`` if ``out`` holds any of them already (a
    bundle is never overwritten)."""
    out = Path(out)
    clash = [name for name in files if (out / name).exists()]
    if clash:
        raise FileExistsError(
            f"{out} holds {', '.join(clash)} already: a results bundle is never overwritten; "
            "give another --out directory"
        )
    out.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=f".{out.name}-", dir=out.parent))
    try:
        for name, data in files.items():
            with open(staging / name, "wb") as f:
                f.write(data)
                f.flush()
                os.fsync(f.fileno())
        if out.exists():
            for name in files:
                os.replace(staging / name, out / name)
            staging.rmdir()
        else:
            os.replace(staging, out)
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise


def manifest_problems(directory: Path) -> list[str]:
    """What is wrong with ``directory`` against its ``MANIFEST.sha256``: a changed, missing or
    extra file, each named (empty: every byte is as certified)."""
    directory = Path(directory)
    manifest = directory / MANIFEST
    if not manifest.is_file():
        return [f"{MANIFEST}: missing in {directory}"]
    listed: dict[str, str] = {}
    problems = []
    try:
        text = manifest.read_text(encoding="ascii")
    except (OSError, UnicodeDecodeError) as exc:
        return [f"{MANIFEST}: unreadable ({exc})"]
    for n, line in enumerate(text.splitlines(), 1):
        digest, sep, name = line.partition("  ")
        if not sep or len(digest) != 64 or not name or "/" in name or name in (".", ".."):
            problems.append(f"{MANIFEST}: line {n} is not '<sha256>  <file>': {line[:80]!r}")
            continue
        listed[name] = digest.lower()
    for name, digest in listed.items():
        path = directory / name
        if not path.is_file():
            problems.append(f"{name}: missing (listed in {MANIFEST})")
        elif _file_sha256(path) != digest:
            problems.append(f"{name}: changed (its SHA-256 is not the one in {MANIFEST})")
    for path in sorted(directory.iterdir()):
        if path.name not in listed and path.name != MANIFEST:
            problems.append(f"{path.name}: extra (not in {MANIFEST})")
    if not problems and RESULTS not in listed:
        problems.append(f"{RESULTS}: not in {MANIFEST}: this is not a results bundle")
    return problems


def read_results(directory: Path) -> dict:
    """The bundle of a directory (``ValueError`` if ``results.json`` is not a JSON object)."""
    try:
        bundle = json.loads((Path(directory) / RESULTS).read_bytes())
    except (OSError, ValueError) as exc:
        raise ValueError(f"{RESULTS}: cannot be read as JSON ({exc})") from None
    if not isinstance(bundle, dict):
        raise ValueError(f"{RESULTS}: is not a JSON object")
    return bundle


def _file_sha256(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()

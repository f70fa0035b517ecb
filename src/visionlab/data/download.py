"""Downloads that happen only when asked (`visionlab data prepare`, `--download`), checked and safe.

`fetch` writes to a temporary file, checks the MD5 where one is known, then renames; `safe_extract`
refuses archive members that would land outside the target folder (absolute paths, `..`, links
pointing out, device files); `cleanup_on_failure` removes every folder a failed download created,
so an offline attempt leaves nothing behind.
"""

from __future__ import annotations

import contextlib
import hashlib
import tarfile
import urllib.request
import zipfile
from collections.abc import Iterator
from pathlib import Path

from visionlab.errors import MissingDataError


def md5sum(path: Path, chunk: int = 1 << 20) -> str:
    """The MD5 hex digest of a file."""
    digest = hashlib.md5()
    with open(path, "rb") as fh:
        while block := fh.read(chunk):
            digest.update(block)
    return digest.hexdigest()


@contextlib.contextmanager
def cleanup_on_failure(folder: Path) -> Iterator[Path]:
    """Create `folder` (and parents); if the block fails, remove the folders it created if left empty."""
    folder = Path(folder)
    missing = []
    probe = folder
    while not probe.exists():
        missing.append(probe)
        probe = probe.parent
    folder.mkdir(parents=True, exist_ok=True)
    try:
        yield folder
    except BaseException:
        for created in missing:  # deepest first
            for sub in sorted(created.rglob("*"), key=lambda p: len(p.parts), reverse=True):
                if sub.is_dir() and not any(sub.iterdir()):
                    sub.rmdir()
            if created.exists() and not any(created.iterdir()):
                created.rmdir()
        raise


def fetch(url: str, target: Path, md5: str | None = None, timeout: float = 20.0) -> Path:
    """Download `url` to `target` (via a temporary file), checking its MD5 when given.

    Raises:
        MissingDataError: the network cannot be reached, or the checksum does not match.
    """
    target = Path(target)
    if target.exists() and (md5 is None or md5sum(target) == md5):
        return target
    tmp = target.with_name(target.name + ".part")
    try:
        with urllib.request.urlopen(url, timeout=timeout) as resp, open(tmp, "wb") as out:  # noqa: S310
            while block := resp.read(1 << 20):
                out.write(block)
    except OSError as err:
        tmp.unlink(missing_ok=True)
        raise MissingDataError(
            f"cannot download {url}: {getattr(err, 'reason', err)}",
            "check the network, or put the files under --data-root yourself",
        ) from None
    if md5 is not None and md5sum(tmp) != md5:
        tmp.unlink()
        raise MissingDataError(f"checksum mismatch for {url}", "the download is corrupt or was changed: try again")
    tmp.replace(target)
    return target


def _inside(base: Path, name: str) -> bool:
    dest = (base / name).resolve()
    return dest == base or base in dest.parents


def safe_extract(archive: Path, folder: Path) -> None:
    """Extract a .tar(.gz/.bz2/.xz) or .zip archive into `folder`, refusing any member that escapes it."""
    folder = Path(folder).resolve()
    folder.mkdir(parents=True, exist_ok=True)
    if zipfile.is_zipfile(archive):
        with zipfile.ZipFile(archive) as zf:
            for name in zf.namelist():
                if not _inside(folder, name):
                    raise MissingDataError(f"unsafe path {name!r} in {archive.name}", "the archive is not trustworthy")
            zf.extractall(folder)
        return
    with tarfile.open(archive) as tf:
        for m in tf.getmembers():
            link = m.linkname if m.islnk() else str(Path(m.name).parent / m.linkname)
            bad = not _inside(folder, m.name) or m.isdev() or ((m.issym() or m.islnk()) and not _inside(folder, link))
            if bad:
                raise MissingDataError(f"unsafe member {m.name!r} in {archive.name}", "the archive is not trustworthy")
        tf.extractall(folder, filter="data")

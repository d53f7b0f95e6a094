"""``SifCache``: SIF files content-addressed by image digest, in the Slurm backend's image directory.

Layout of ``directory`` (a shared filesystem the Slurm nodes read)::

    sha256-<hex>.sif                 a finished SIF (name from broker.domain.image.sif_filename)
    .sha256-<hex>.sif.<pid>.<rand>.tmp  a conversion in progress (renamed into place when complete)
    .locks/sha256-<hex>.lock         the per-digest lock file (flock), kept

Contracts:
- ``ensure(resolved, progress)`` returns the SIF path, converting at most once per digest: one thread or
  process converts while the others wait on the digest's lock (``fcntl.flock`` across processes plus a thread
  lock in the process, since NFS may map flock to per-process POSIX locks), then find the file. The SIF is
  written to a temporary file in the same directory, fsync'ed and renamed, so a reader never sees a partial
  SIF; when the conversion fails the temporary file and scratch directory are removed and the ImageError
  propagates.
- Use refreshes a file's atime/mtime; after each conversion the least recently used SIFs are removed until the
  cache fits ``max_bytes``, never the one just made, digests ``in_use()`` reports, or one being converted.
- ``on_conversion(digest, seconds, outcome)`` (outcome ``success`` | ``failure``) and ``on_cache_hit(digest)``
  let the broker count conversions for its metrics.
"""

from __future__ import annotations

import builtins
import contextlib
import fcntl
import os
import re
import secrets
import shutil
import tempfile
import threading
import time
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path

from dualtrack.broker.domain.image import sif_filename
from dualtrack.broker.images.convert import Converter, ProgressFn, SkopeoUmociConverter, looks_like_sif
from dualtrack.broker.images.errors import ConversionFailed
from dualtrack.broker.images.resolve import ResolvedImage

ConversionCallback = Callable[[str, float, str], None]
HitCallback = Callable[[str], None]

_SIF_NAME = re.compile(r"^sha256-([0-9a-f]{64})\.sif$")
_THREAD_LOCKS: dict[str, threading.Lock] = {}
_THREAD_LOCKS_GUARD = threading.Lock()


@dataclass(frozen=True)
class CacheEntry:
    digest: str
    path: Path
    size_bytes: int
    last_used: float  # epoch seconds, max(atime, mtime)


class SifCache:
    def __init__(
        self,
        directory: Path | str,
        max_bytes: int,
        converter: Converter | None = None,
        workdir: Path | str | None = None,
        on_conversion: ConversionCallback | None = None,
        on_cache_hit: HitCallback | None = None,
        in_use: Callable[[], Iterable[str]] | None = None,
    ):
        if max_bytes <= 0:
            raise ValueError(f"max_bytes: must be > 0, not {max_bytes}")
        self.directory = Path(directory)
        self.max_bytes = max_bytes
        self.converter: Converter = converter or SkopeoUmociConverter()
        self.workdir = Path(workdir) if workdir is not None else None
        self.on_conversion = on_conversion
        self.on_cache_hit = on_cache_hit
        self.in_use = in_use

    def path_for(self, digest: str) -> Path:
        """Where the SIF of ``digest`` lives (existing or not). ValueError for a non-sha256 digest."""
        return self.directory / sif_filename(digest)

    def has(self, digest: str) -> bool:
        return self.path_for(digest).is_file()

    def ensure(self, resolved: ResolvedImage, progress: ProgressFn | None = None) -> Path:
        """The SIF of ``resolved``, converted now if absent (see the module docstring). Raises ImageError."""
        final = self.path_for(resolved.digest)
        if self._hit(final, resolved.digest):
            return final
        try:
            self.directory.mkdir(parents=True, exist_ok=True)
            with self._locked(resolved.digest, blocking=True):
                if self._hit(final, resolved.digest):
                    return final
                self._remove_stale_temporaries(final)
                self._convert(resolved, final, progress)
        except OSError as error:  # the cache directory itself (not writable, not a directory, full)
            raise ConversionFailed(resolved.original, f"cache directory {self.directory}: {error}") from error
        self.prune(keep=frozenset({resolved.digest}))
        return final

    def list(self) -> list[CacheEntry]:
        """The cached SIFs, most recently used first (temporary files are not listed)."""
        entries = []
        with contextlib.suppress(FileNotFoundError):
            for path in self.directory.iterdir():
                match = _SIF_NAME.match(path.name)
                if not match:
                    continue
                try:
                    st = path.stat()
                except FileNotFoundError:
                    continue
                entries.append(CacheEntry(f"sha256:{match.group(1)}", path, st.st_size, max(st.st_atime, st.st_mtime)))
        return sorted(entries, key=lambda e: e.last_used, reverse=True)

    def prune(self, max_bytes: int | None = None, keep: frozenset[str] = frozenset()) -> builtins.list[CacheEntry]:
        """Remove least recently used SIFs until the cache fits ``max_bytes`` (default: the cache's bound).

        Skips ``keep``, the digests ``in_use()`` reports and digests whose lock is held (being converted).
        Returns the removed entries.
        """
        limit = self.max_bytes if max_bytes is None else max_bytes
        entries = self.list()
        total = sum(e.size_bytes for e in entries)
        protected = set(keep) | set(self.in_use() if self.in_use else ())
        removed = []
        for entry in reversed(entries):  # least recently used first
            if total <= limit:
                break
            if entry.digest in protected:
                continue
            with self._locked(entry.digest, blocking=False) as acquired:
                if acquired and _unlink(entry.path):
                    total -= entry.size_bytes
                    removed.append(entry)
        return removed

    def remove(self, digest: str) -> bool:
        """Delete the SIF of ``digest`` (after any conversion of it). True when one was removed."""
        with self._locked(digest, blocking=True):
            return _unlink(self.path_for(digest))

    def _hit(self, final: Path, digest: str) -> bool:
        if not final.is_file():
            return False
        with contextlib.suppress(OSError):
            os.utime(final)  # the LRU clock; a read-only mount simply keeps the old time
        if self.on_cache_hit:
            self.on_cache_hit(digest)
        return True

    def _convert(self, resolved: ResolvedImage, final: Path, progress: ProgressFn | None) -> None:
        tmp = final.with_name(f".{final.name}.{os.getpid()}.{secrets.token_hex(4)}.tmp")
        scratch_parent = self.workdir or Path(tempfile.gettempdir())
        scratch_parent.mkdir(parents=True, exist_ok=True)
        scratch = Path(tempfile.mkdtemp(prefix=f"dualtrack-{final.stem[:19]}-", dir=scratch_parent))
        started = time.monotonic()
        try:
            self.converter.convert(resolved, tmp, scratch, progress)
            if not looks_like_sif(tmp):
                raise ConversionFailed(resolved.original, f"the {self.converter.name} builder wrote no SIF file")
            _fsync_file(tmp)
            os.rename(tmp, final)
            _fsync_dir(self.directory)
        except BaseException as error:
            _unlink(tmp)
            self._report(resolved.digest, time.monotonic() - started, "failure")
            if isinstance(error, OSError):
                raise ConversionFailed(resolved.original, f"writing the SIF failed: {error}") from error
            raise
        finally:
            shutil.rmtree(scratch, ignore_errors=True)
        self._report(resolved.digest, time.monotonic() - started, "success")

    def _report(self, digest: str, seconds: float, outcome: str) -> None:
        if self.on_conversion:
            self.on_conversion(digest, seconds, outcome)

    def _remove_stale_temporaries(self, final: Path) -> None:
        """Temporary files of a crashed conversion of this digest (we hold its lock: nobody writes them)."""
        for stale in self.directory.glob(f".{final.name}.*.tmp"):
            _unlink(stale)

    @contextlib.contextmanager
    def _locked(self, digest: str, blocking: bool) -> Iterator[bool]:
        """Hold the digest's lock (thread lock, then flock); yields False when non-blocking and taken."""
        lock_path = self.directory / ".locks" / f"{sif_filename(digest)[:-4]}.lock"
        with _THREAD_LOCKS_GUARD:
            thread_lock = _THREAD_LOCKS.setdefault(str(lock_path.absolute()), threading.Lock())
        if not thread_lock.acquire(blocking=blocking):
            yield False
            return
        try:
            lock_path.parent.mkdir(parents=True, exist_ok=True)
            fd = os.open(lock_path, os.O_RDWR | os.O_CREAT, 0o644)
            try:
                try:
                    fcntl.flock(fd, fcntl.LOCK_EX | (0 if blocking else fcntl.LOCK_NB))
                except BlockingIOError:
                    yield False
                    return
                yield True
            finally:
                os.close(fd)  # closing releases the flock
        finally:
            thread_lock.release()


def _unlink(path: Path) -> bool:
    try:
        path.unlink()
        return True
    except FileNotFoundError:
        return False


def _fsync_file(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _fsync_dir(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY | os.O_DIRECTORY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)

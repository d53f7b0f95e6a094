from __future__ import annotations

import multiprocessing
import os
import threading
import time
from pathlib import Path
from types import SimpleNamespace

import pytest

from dualtrack.broker.domain.image import sif_filename
from dualtrack.broker.images.cache import SifCache
from dualtrack.broker.images.errors import ConversionFailed


def visible_files(directory: Path) -> list[str]:
    """Everything in the cache directory except the lock files."""
    return sorted(str(p.relative_to(directory)) for p in directory.rglob("*") if ".locks" not in p.parts)


def test_ensure_converts_once_and_names_the_file_by_digest(h: SimpleNamespace, tmp_path: Path, log: Path) -> None:
    converter = h.FakeConverter(log)
    hits: list[str] = []
    conversions: list[tuple[str, str]] = []
    cache = SifCache(
        tmp_path / "c", 10_000, converter, workdir=tmp_path / "w",
        on_conversion=lambda d, s, o: conversions.append((d, o)), on_cache_hit=hits.append,
    )  # fmt: skip
    first = cache.ensure(h.resolved(7))
    second = cache.ensure(h.resolved(7))
    assert first == second == tmp_path / "c" / sif_filename(h.digest(7))
    assert len(converter.conversions()) == 1
    assert conversions == [(h.digest(7), "success")] and hits == [h.digest(7)]
    assert cache.has(h.digest(7)) and not cache.has(h.digest(8))
    assert visible_files(tmp_path / "c") == [sif_filename(h.digest(7))]
    assert list((tmp_path / "w").iterdir()) == []  # scratch removed


def test_the_sif_is_written_beside_its_final_name_and_renamed(h: SimpleNamespace, tmp_path: Path, log: Path) -> None:
    converter = h.FakeConverter(log, delay=0.3)
    cache = SifCache(tmp_path, 10_000, converter, workdir=tmp_path / "w")
    final = cache.path_for(h.digest(1))
    seen_during: list[bool] = []
    worker = threading.Thread(target=cache.ensure, args=(h.resolved(1),))
    worker.start()
    while not converter.seen_paths:
        time.sleep(0.01)
    seen_during.append(final.exists())
    worker.join()
    tmp = converter.seen_paths[0]
    assert seen_during == [False]
    assert tmp.parent == final.parent and tmp.name.startswith(f".{final.name}.") and tmp.name.endswith(".tmp")
    assert not tmp.exists() and final.exists()


@pytest.mark.parametrize("fail", ["before-write", "mid-write", "garbage"])
def test_a_failed_conversion_leaves_no_partial_sif(h: SimpleNamespace, tmp_path: Path, log: Path, fail: str) -> None:
    outcomes: list[str] = []
    cache = SifCache(
        tmp_path / "c", 10_000, h.FakeConverter(log, fail=fail), workdir=tmp_path / "w",
        on_conversion=lambda d, s, o: outcomes.append(o),
    )  # fmt: skip
    with pytest.raises(ConversionFailed) as error:
        cache.ensure(h.resolved(3, image="example/broken:1"))
    assert "example/broken:1" in str(error.value)
    assert visible_files(tmp_path / "c") == []
    assert list((tmp_path / "w").iterdir()) == []
    assert outcomes == ["failure"] and cache.list() == []


def test_os_errors_become_conversion_failed_naming_the_image(h: SimpleNamespace, tmp_path: Path, log: Path) -> None:
    class Exploding:
        name = "exploding"

        def convert(self, *args: object) -> None:
            raise OSError(28, "No space left on device")

    cache = SifCache(tmp_path / "c", 10_000, Exploding(), workdir=tmp_path / "w")
    with pytest.raises(ConversionFailed, match=r"example/app:1.*No space left"):
        cache.ensure(h.resolved(1))


def test_stale_temporaries_of_a_crashed_conversion_are_removed(h: SimpleNamespace, tmp_path: Path, log: Path) -> None:
    cache = SifCache(tmp_path, 10_000, h.FakeConverter(log), workdir=tmp_path / "w")
    stale = tmp_path / f".{sif_filename(h.digest(1))}.999.abcd.tmp"
    stale.write_bytes(b"half")
    other = tmp_path / f".{sif_filename(h.digest(2))}.999.abcd.tmp"
    other.write_bytes(b"someone else's")
    cache.ensure(h.resolved(1))
    assert not stale.exists() and other.exists()


def _age(path: Path, seconds_ago: float) -> None:
    t = time.time() - seconds_ago
    os.utime(path, (t, t))


def test_lru_eviction_keeps_the_cache_under_its_bound(h: SimpleNamespace, tmp_path: Path, log: Path) -> None:
    cache = SifCache(tmp_path, 250, h.FakeConverter(log, size=100), workdir=tmp_path / "w")
    for n in (1, 2):
        cache.ensure(h.resolved(n))
    _age(cache.path_for(h.digest(1)), 300)
    _age(cache.path_for(h.digest(2)), 200)
    cache.ensure(h.resolved(1))  # a hit refreshes 1: 2 is now the least recently used
    cache.ensure(h.resolved(3))  # 300 bytes > 250: evict one
    assert {e.digest for e in cache.list()} == {h.digest(1), h.digest(3)}
    assert [e.digest for e in cache.list()][-1] == h.digest(1)  # most recently used first


def test_prune_spares_kept_in_use_and_locked_digests(h: SimpleNamespace, tmp_path: Path, log: Path) -> None:
    in_use = {h.digest(1)}
    cache = SifCache(tmp_path, 10_000, h.FakeConverter(log, size=100), workdir=tmp_path / "w", in_use=lambda: in_use)
    for n in (1, 2, 3, 4):
        cache.ensure(h.resolved(n))
        _age(cache.path_for(h.digest(n)), 100 - n)
    with cache._locked(h.digest(3), blocking=True):
        removed = cache.prune(max_bytes=0, keep=frozenset({h.digest(2)}))
    assert [e.digest for e in removed] == [h.digest(4)]
    assert {e.digest for e in cache.list()} == {h.digest(1), h.digest(2), h.digest(3)}
    assert cache.remove(h.digest(3)) and not cache.remove(h.digest(3))
    in_use.clear()
    removed = cache.prune(max_bytes=150)  # 1 and 2 left, 200 bytes: the older one (1) goes
    assert [e.digest for e in removed] == [h.digest(1)]
    assert [e.digest for e in cache.list()] == [h.digest(2)]


def test_list_ignores_foreign_files_and_missing_directory(h: SimpleNamespace, tmp_path: Path, log: Path) -> None:
    assert SifCache(tmp_path / "absent", 10, h.FakeConverter(log)).list() == []
    (tmp_path / "notes.txt").write_text("x")
    (tmp_path / "sha256-zz.sif").write_text("x")
    assert SifCache(tmp_path, 10, h.FakeConverter(log)).list() == []


def test_four_threads_convert_one_digest_once(h: SimpleNamespace, tmp_path: Path, log: Path) -> None:
    converter = h.FakeConverter(log, delay=0.3)
    cache = SifCache(tmp_path / "c", 10_000, converter, workdir=tmp_path / "w")
    barrier = threading.Barrier(4)
    results: list[Path] = []

    def request() -> None:
        barrier.wait()
        results.append(SifCache(tmp_path / "c", 10_000, converter, workdir=tmp_path / "w").ensure(h.resolved(5)))

    threads = [threading.Thread(target=request) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(results) == 4 and len(set(results)) == 1
    assert len(converter.conversions()) == 1
    assert cache.has(h.digest(5))


def _process_request(cache: SifCache, item: object, barrier: object) -> None:
    barrier.wait()  # type: ignore[attr-defined]
    path = cache.ensure(item)  # type: ignore[arg-type]
    assert path.exists()


def test_four_processes_convert_one_digest_once(h: SimpleNamespace, tmp_path: Path, log: Path) -> None:
    context = multiprocessing.get_context("fork")
    barrier = context.Barrier(4)
    processes = []
    for _ in range(4):  # one cache object per process, as four broker processes would have
        cache = SifCache(tmp_path / "c", 10_000, h.FakeConverter(log, delay=0.3), workdir=tmp_path / "w")
        processes.append(context.Process(target=_process_request, args=(cache, h.resolved(6), barrier)))
    for p in processes:
        p.start()
    for p in processes:
        p.join(30)
    assert [p.exitcode for p in processes] == [0, 0, 0, 0]
    lines = log.read_text().splitlines()
    assert len(lines) == 1, lines
    assert visible_files(tmp_path / "c") == [sif_filename(h.digest(6))]


def test_bad_arguments(h: SimpleNamespace, tmp_path: Path, log: Path) -> None:
    with pytest.raises(ValueError, match="max_bytes"):
        SifCache(tmp_path, 0, h.FakeConverter(log))
    with pytest.raises(ValueError, match="sha256"):
        SifCache(tmp_path, 10, h.FakeConverter(log)).path_for("md5:abc")


def test_an_unusable_cache_directory_is_an_image_error(h: SimpleNamespace, tmp_path: Path, log: Path) -> None:
    (tmp_path / "file").write_text("not a directory")
    cache = SifCache(tmp_path / "file" / "cache", 10_000, h.FakeConverter(log), workdir=tmp_path / "w")
    with pytest.raises(ConversionFailed, match=r"example/app:1.*cache directory"):
        cache.ensure(h.resolved(1))

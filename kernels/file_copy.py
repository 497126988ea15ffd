"""Why a folder of many small files copies slowly and one archive of the same bytes does not.

Chapter: ``book/many_small_files.md``.

Copying a file costs a fixed set of system calls and metadata updates whatever its size (look
the name up, ``stat`` it, ``open`` the source, create the destination: a directory entry and an
inode, write, set attributes, ``close`` both), plus a cost per byte. So the time to copy ``N``
files holding ``B`` bytes in all is close to

    t ≈ a + b·N + c·B

(``a``: starting the program, ``b``: the per-file cost, ``c``: the per-byte cost). One archive
of the same bytes is one file: its ``b·N`` term is gone. This module makes trees of files,
copies them four ways (:data:`COPY_METHODS`), times each, checks that the copy is exact, counts the
system calls per file (``strace -c -f`` when it is installed, else the operations
:func:`shutil.copytree` performs, counted in Python), fits ``a, b, c``, and times ``tar`` with
and without gzip and ``-v``. It imports only the standard library (numpy for the fit).
"""
from __future__ import annotations

import contextlib
import os
import random
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Iterable

__all__ = ["COPY_METHODS", "make_tree", "tree_size", "trees_identical", "copy_tree", "CopyTiming",
           "time_copy", "CallCount", "count_calls", "per_file_calls", "CostFit", "fit_cost",
           "TarTiming", "time_tar_create", "filesystem_type"]

# cp -r; shutil.copytree; one tar stream (tar -cf - | tar -xf -); cp of one ready .tar
COPY_METHODS = ("cp", "copytree", "tar_pipe", "archive")


def _positive(value, name):
    if isinstance(value, bool) or not isinstance(value, int):
        raise TypeError(f"{name} must be an int, got {type(value).__name__} {value!r}")
    if value <= 0:
        raise ValueError(f"{name} must be positive, got {value}")
    return value


def _existing(path, name, kind="directory"):
    p = Path(path)
    ok = p.is_dir() if kind == "directory" else p.exists()
    if not ok:
        raise FileNotFoundError(f"{name}: no such {kind}: {str(p)!r}")
    return p


def _method(method):
    if method not in COPY_METHODS:
        raise ValueError(f"method must be one of {COPY_METHODS}, got {method!r}")
    return method


def make_tree(directory, n_files: int, file_size: int, *, compressible: bool = False,
              name: str = "data", seed: int = 0) -> Path:
    """Write ``n_files`` files of ``file_size`` bytes into a new folder ``directory/name``.

    ``compressible=True`` fills them with repeated text (gzip shrinks it many times);
    otherwise with pseudo-random bytes (seeded), which no compressor can shrink.
    """
    directory = _existing(directory, "directory")
    _positive(n_files, "n_files"), _positive(file_size, "file_size")
    root = directory / name
    root.mkdir()
    rng = random.Random(seed)
    line = b"the quick brown fox jumps over the lazy dog 0123456789\n"
    text = (line * (file_size // len(line) + 1))[:file_size]
    for i in range(n_files):
        (root / f"f{i:06d}.bin").write_bytes(text if compressible else rng.randbytes(file_size))
    return root


def tree_size(path) -> tuple[int, int]:
    """``(number of files, total bytes)`` under ``path``."""
    files = [p for p in _existing(path, "path").rglob("*") if p.is_file()]
    return len(files), sum(p.stat().st_size for p in files)


def _listing(root) -> list:
    """Sorted (relative name, is a file) of everything under ``root``."""
    out = []
    for folder, dirs, files in os.walk(root):
        rel = os.path.relpath(folder, root)
        out += [(os.path.normpath(os.path.join(rel, d)), False) for d in dirs]
        out += [(os.path.normpath(os.path.join(rel, f)), True) for f in files]
    return sorted(out)


def _same_bytes(a, b) -> bool:
    with open(a, "rb") as fa, open(b, "rb") as fb:
        while True:
            x, y = fa.read(1 << 20), fb.read(1 << 20)
            if x != y:
                return False
            if not x:
                return True


def trees_identical(a, b) -> bool:
    """True when ``a`` and ``b`` hold the same relative names and every file the same bytes."""
    a, b = _existing(a, "a"), _existing(b, "b")
    names = _listing(a)
    if names != _listing(b):
        return False
    return all(_same_bytes(a / n, b / n) for n, is_file in names if is_file)


def _tar_pipe(src, dst):
    """``tar -cf - -C src . | tar -xf - -C dst``: one stream, no archive on disk."""
    dst.mkdir()
    pack = subprocess.Popen(["tar", "-cf", "-", "-C", str(src), "."], stdout=subprocess.PIPE)
    unpack = subprocess.run(["tar", "-xf", "-", "-C", str(dst)], stdin=pack.stdout)
    pack.stdout.close()
    if pack.wait() or unpack.returncode:
        raise RuntimeError(f"tar pipe from {src} to {dst} failed")


def copy_tree(src, dst, method: str = "cp") -> Path:
    """Copy the folder ``src`` to the new path ``dst`` by ``method`` (one of :data:`COPY_METHODS`).

    ``"archive"`` copies one file: ``src`` must be an archive (``tar -cf``), ``dst`` its copy.
    """
    method = _method(method)
    src, dst = _existing(src, "src", "file" if method == "archive" else "directory"), Path(dst)
    _existing(dst.parent, "dst's parent")
    if dst.exists():
        raise FileExistsError(f"dst already exists: {str(dst)!r}")
    if method in ("cp", "archive"):
        subprocess.run(["cp", "-r", str(src), str(dst)], check=True)
    elif method == "copytree":
        shutil.copytree(src, dst)
    else:
        _tar_pipe(src, dst)
    return dst


def _pack(src, archive):
    subprocess.run(["tar", "-cf", str(archive), "-C", str(src), "."], check=True)
    return archive


@dataclass(frozen=True)
class CopyTiming:
    """Median wall time of copying ``n_files`` files (``n_bytes`` in all) by ``method``."""

    method: str
    n_files: int
    n_bytes: int
    seconds: float
    runs: tuple = field(repr=False, default=())

    @property
    def per_file(self) -> float:
        """Seconds per file (all of the time, divided by the number of files)."""
        return self.seconds / self.n_files

    @property
    def throughput(self) -> float:
        """Bytes of file content copied per second."""
        return self.n_bytes / self.seconds


def time_copy(src, method: str, *, repeat: int = 3) -> CopyTiming:
    """Copy the tree ``src`` ``repeat`` times by ``method`` (beside it), check, time, clean up.

    For ``"archive"`` the tree is packed once into ``src.tar`` (not timed) and the timed copy is
    ``cp`` of that one file. The first copy is checked to be exact; every copy is deleted.
    """
    method, src = _method(method), _existing(src, "src")
    _positive(repeat, "repeat")
    n_files, n_bytes = tree_size(src)
    what = _pack(src, src.with_suffix(".tar")) if method == "archive" else src
    runs = []
    try:
        for i in range(repeat):
            dst = src.parent / f"{src.name}.{method}.{i}"
            start = time.perf_counter()
            copy_tree(what, dst, method)
            runs.append(time.perf_counter() - start)
            if i == 0 and not (_same_bytes(what, dst) if method == "archive"
                               else trees_identical(src, dst)):
                raise RuntimeError(f"{method} copied {src} to {dst} wrongly")
            (os.remove if method == "archive" else shutil.rmtree)(dst)
    finally:
        if method == "archive":
            os.remove(what)
    return CopyTiming(method, n_files, n_bytes, statistics.median(runs), tuple(runs))


@dataclass(frozen=True)
class CallCount:
    """System calls (or, with ``tool="python"``, file operations) of one copy of a tree."""

    method: str
    tool: str  # "strace" (strace -c -f) or "python" (operations of shutil.copytree, counted)
    n_files: int
    calls: dict

    @property
    def total(self) -> int:
        return sum(self.calls.values())


_STRACE_ROW = re.compile(r"^\s*[\d.]+\s+[\d.]+\s+\d+\s+(\d+)\s+(?:\d+\s+)?(\w+)\s*$")


def _strace(argv, workdir) -> dict:
    out = Path(workdir) / "strace.txt"
    subprocess.run(["strace", "-c", "-f", "-o", str(out), *argv], check=True,
                   stdout=subprocess.DEVNULL)
    calls = {}
    for line in out.read_text().splitlines():
        m = _STRACE_ROW.match(line)
        if m and m.group(2) != "total":
            calls[m.group(2)] = int(m.group(1))
    out.unlink()
    return calls


# what shutil.copytree calls, looked up on os at call time, plus builtins.open
_PY_OPS = ("scandir", "mkdir", "stat", "lstat", "fstat", "sendfile", "utime", "chmod",
           "listxattr", "setxattr", "open", "close")


@contextlib.contextmanager
def _counting_os(calls):
    saved = {n: getattr(os, n) for n in _PY_OPS if hasattr(os, n)}

    def wrap(name, fn):
        def counted(*args, **kwargs):
            calls[name] = calls.get(name, 0) + 1
            return fn(*args, **kwargs)
        return counted
    for n, fn in saved.items():
        setattr(os, n, wrap(n, fn))
    shutil.open = wrap("open (file object)", open)  # shutil.copyfile's builtins.open
    try:
        yield calls
    finally:
        for n, fn in saved.items():
            setattr(os, n, fn)
        del shutil.open


def count_calls(src, method: str, *, tool: str | None = None) -> CallCount:
    """Count what copying the tree ``src`` by ``method`` asks of the kernel.

    ``tool="strace"`` runs the copy under ``strace -c -f`` (child processes included) and
    returns its per-call table; ``tool="python"`` counts the ``os`` functions (and ``open``)
    that :func:`shutil.copytree` calls, so only ``method="copytree"``. Default: strace when it
    is installed. Both include fixed start-up calls: see :func:`per_file_calls`.
    """
    method, src = _method(method), _existing(src, "src")
    tool = tool or ("strace" if shutil.which("strace") else "python")
    if tool not in ("strace", "python"):
        raise ValueError(f"tool must be 'strace' or 'python', got {tool!r}")
    if tool == "strace" and not shutil.which("strace"):
        raise RuntimeError("tool='strace' but strace is not installed")
    if tool == "python" and method != "copytree":
        raise ValueError(f"tool='python' counts shutil.copytree only, got method={method!r}")
    n_files = tree_size(src)[0]
    with tempfile.TemporaryDirectory(dir=src.parent) as work:
        dst = Path(work) / "copy"
        if tool == "python":
            with _counting_os({}) as calls:
                shutil.copytree(src, dst)
        else:
            what = _pack(src, Path(work) / "ready.tar") if method == "archive" else src
            argv = {"cp": ["cp", "-r", str(src), str(dst)],
                    "archive": ["cp", "-r", str(what), str(dst)],
                    "copytree": [sys.executable, "-c",
                                 "import shutil, sys; shutil.copytree(*sys.argv[1:])",
                                 str(src), str(dst)],
                    "tar_pipe": ["sh", "-c", 'mkdir "$2" && tar -cf - -C "$1" . | '
                                 'tar -xf - -C "$2"', "sh", str(src), str(dst)]}[method]
            calls = _strace(argv, work)
    return CallCount(method, tool, n_files, dict(sorted(calls.items())))


def per_file_calls(small: CallCount, large: CallCount) -> dict:
    """Calls per extra file: ``(large - small) / (files of large - files of small)``.

    The difference of two copies of different sizes cancels what does not grow with the
    number of files (starting the program, loading libraries).
    """
    if (small.method, small.tool) != (large.method, large.tool):
        raise ValueError("small and large must count the same method with the same tool")
    extra = large.n_files - small.n_files
    if extra <= 0:
        raise ValueError(f"large must have more files than small, got {large.n_files} and "
                         f"{small.n_files}")
    names = sorted(set(small.calls) | set(large.calls))
    return {n: (large.calls.get(n, 0) - small.calls.get(n, 0)) / extra for n in names}


@dataclass(frozen=True)
class CostFit:
    """``t ≈ fixed + per_file·N + per_byte·B`` for one method, fitted to measured copies."""

    method: str
    fixed: float
    per_file: float
    per_byte: float

    def predict(self, n_files, n_bytes) -> float:
        return self.fixed + self.per_file * n_files + self.per_byte * n_bytes


def fit_cost(timings: Iterable[CopyTiming]) -> CostFit:
    """Least-squares fit of ``a + b·N + c·B`` to timings of one method, in relative error
    (each row divided by its time), so that the fast copies weigh as much as the slow ones."""
    import numpy as np

    timings = list(timings)
    if len({t.method for t in timings}) != 1:
        raise ValueError("timings must all be of one method")
    if len({(t.n_files, t.n_bytes) for t in timings}) < 3:
        raise ValueError(f"timings must hold at least 3 different (N, bytes), got {len(timings)}")
    t = np.array([x.seconds for x in timings])
    design = np.array([[1.0, x.n_files, x.n_bytes] for x in timings]) / t[:, None]
    (a, b, c), *_ = np.linalg.lstsq(design, np.ones_like(t), rcond=None)
    return CostFit(timings[0].method, float(a), float(b), float(c))


@dataclass(frozen=True)
class TarTiming:
    """Median time of ``tar -c[z][v]f`` over a tree, the archive's size and the lines printed."""

    flags: str
    seconds: float
    n_bytes: int  # of the files packed
    archive_bytes: int
    lines_printed: int


def time_tar_create(src, *, gzip: bool = False, verbose: bool = False,
                    output: str = "devnull", repeat: int = 3) -> TarTiming:
    """Time ``tar -c[z][v]f archive -C src .`` and delete the archive.

    ``output`` is where tar's standard output (the ``-v`` listing) goes: ``"devnull"`` or
    ``"pipe"`` (read back by Python, as a notebook does before it shows it).
    """
    src = _existing(src, "src")
    _positive(repeat, "repeat")
    if output not in ("devnull", "pipe"):
        raise ValueError(f"output must be 'devnull' or 'pipe', got {output!r}")
    flags = "-c" + "z" * gzip + "v" * verbose + "f"
    archive = src.parent / f"{src.name}.timed.tar{'.gz' * gzip}"
    runs, lines = [], 0
    for _ in range(repeat):
        start = time.perf_counter()
        done = subprocess.run(["tar", flags, str(archive), "-C", str(src), "."], check=True,
                              stdout=subprocess.PIPE if output == "pipe" else subprocess.DEVNULL)
        runs.append(time.perf_counter() - start)
        lines = len(done.stdout.splitlines()) if done.stdout else 0
        size = archive.stat().st_size
        archive.unlink()
    return TarTiming(flags, statistics.median(runs), tree_size(src)[1], size, lines)


def filesystem_type(path) -> str:
    """The file system ``path`` lives on (``ext4``, ``tmpfs``, ``overlay``…), from the
    longest matching mount point in ``/proc/mounts``, else ``stat -f``."""
    path = os.path.realpath(_existing(path, "path", "path"))
    mounts = Path("/proc/mounts")
    if mounts.exists():
        best = ("", "")
        for line in mounts.read_text().splitlines():
            _, point, kind = line.split()[:3]
            point = point.replace("\\040", " ")
            inside = path == point or path.startswith(point.rstrip("/") + "/")
            if inside and len(point) > len(best[0]):
                best = (point, kind)
        if best[1]:
            return best[1]
    done = subprocess.run(["stat", "-f", "-c", "%T", path], capture_output=True, text=True)
    return done.stdout.strip() or "unknown"

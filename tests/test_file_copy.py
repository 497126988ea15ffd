"""kernels.file_copy on tiny trees: every copy is exact, the counts add up, bad input is named.

Timings are never checked (they belong to the machine), only that they are positive and that
each method left an exact copy behind.
"""
import filecmp
import shutil
import subprocess
import tarfile

import pytest

from kernels import file_copy as fc

HAS_STRACE = shutil.which("strace") is not None


@pytest.fixture
def tree(tmp_path):
    return fc.make_tree(tmp_path, 5, 300)


def test_make_tree_writes_n_files_of_s_bytes(tmp_path):
    random = fc.make_tree(tmp_path, 7, 123, name="r")
    text = fc.make_tree(tmp_path, 7, 123, compressible=True, name="t")
    assert fc.tree_size(random) == fc.tree_size(text) == (7, 7 * 123)
    assert (text / "f000000.bin").read_bytes() == (text / "f000006.bin").read_bytes()
    assert (random / "f000000.bin").read_bytes() != (random / "f000001.bin").read_bytes()
    again = fc.make_tree(tmp_path, 7, 123, name="r2")  # the same seed, the same bytes
    assert fc.trees_identical(random, again)


@pytest.mark.parametrize("method", ["cp", "copytree", "tar_pipe"])
def test_every_tree_method_copies_exactly(tree, method):
    dst = fc.copy_tree(tree, tree.parent / f"copy_{method}", method)
    assert fc.trees_identical(tree, dst)
    assert fc.tree_size(dst) == (5, 1500)


def test_archive_method_copies_the_one_file(tree, tmp_path):
    archive = tmp_path / "ready.tar"
    subprocess.run(["tar", "-cf", str(archive), "-C", str(tree), "."], check=True)
    dst = fc.copy_tree(archive, tmp_path / "copy.tar", "archive")
    assert filecmp.cmp(archive, dst, shallow=False)
    with tarfile.open(dst) as t:
        assert sorted(m.name for m in t.getmembers() if m.isfile()) == \
            [f"./f{i:06d}.bin" for i in range(5)]


def test_trees_identical_sees_a_changed_byte_and_a_missing_file(tree):
    dst = fc.copy_tree(tree, tree.parent / "c", "copytree")
    assert fc.trees_identical(tree, dst)
    f = dst / "f000002.bin"
    data = bytearray(f.read_bytes())
    data[100] ^= 1
    f.write_bytes(bytes(data))
    assert not fc.trees_identical(tree, dst)
    f.unlink()
    assert not fc.trees_identical(tree, dst)


@pytest.mark.parametrize("method", fc.COPY_METHODS)
def test_time_copy_checks_and_cleans_up(tree, method):
    before = sorted(p.name for p in tree.parent.iterdir())
    t = fc.time_copy(tree, method, repeat=2)
    assert (t.method, t.n_files, t.n_bytes, len(t.runs)) == (method, 5, 1500, 2)
    assert t.seconds > 0 and t.per_file == t.seconds / 5 and t.throughput == 1500 / t.seconds
    assert sorted(p.name for p in tree.parent.iterdir()) == before  # copies deleted


def test_python_count_of_copytree_is_per_file_consistent(tmp_path):
    small = fc.count_calls(fc.make_tree(tmp_path, 3, 10, name="s"), "copytree", tool="python")
    large = fc.count_calls(fc.make_tree(tmp_path, 9, 10, name="l"), "copytree", tool="python")
    assert (small.tool, small.n_files, large.n_files) == ("python", 3, 9)
    per_file = fc.per_file_calls(small, large)
    # each file: one open of the source and one of the destination, whatever its size
    assert per_file["open (file object)"] == 2
    assert all(v == int(v) and v >= 0 for v in per_file.values())
    assert sum(per_file.values()) >= 4 and small.total > 0
    # the counts are linear in N: the fixed part is what per_file does not explain
    fixed = {k: small.calls.get(k, 0) - 3 * v for k, v in per_file.items()}
    assert all(large.calls.get(k, 0) == fixed[k] + 9 * v for k, v in per_file.items())


@pytest.mark.skipif(not HAS_STRACE, reason="strace is not installed")
@pytest.mark.parametrize("method", fc.COPY_METHODS)
def test_strace_counts_grow_per_file_except_for_one_archive(tmp_path, method):
    small = fc.count_calls(fc.make_tree(tmp_path, 4, 100, name="s"), method)
    large = fc.count_calls(fc.make_tree(tmp_path, 24, 100, name="l"), method)
    assert small.tool == "strace" and small.total > 0 and large.total > 0
    per_file = fc.per_file_calls(small, large)
    if method == "archive":  # one file, whatever N: a few more calls at most for a longer file
        assert large.total - small.total < 20
    else:  # every file opened twice (read and create) and closed
        assert per_file["openat"] >= 2 and per_file["close"] >= 2
        assert sum(per_file.values()) >= 6


def test_fit_recovers_a_cost_model():
    rows = [(1, 100), (10, 1000), (100, 100), (100, 10_000), (1000, 1000), (1000, 100_000)]
    timings = [fc.CopyTiming("cp", n, b, 2e-3 + 50e-6 * n + 1e-9 * b) for n, b in rows]
    fit = fc.fit_cost(timings)
    assert fit.fixed == pytest.approx(2e-3) and fit.per_file == pytest.approx(50e-6)
    assert fit.per_byte == pytest.approx(1e-9)
    assert fit.predict(10, 1000) == pytest.approx(timings[1].seconds)


def test_tar_create_gzip_and_verbose(tmp_path):
    text = fc.make_tree(tmp_path, 4, 5000, compressible=True, name="t")
    plain = fc.time_tar_create(text, repeat=1)
    gz = fc.time_tar_create(text, gzip=True, verbose=True, output="pipe", repeat=1)
    assert (plain.flags, gz.flags) == ("-cf", "-czvf")
    assert plain.archive_bytes >= 4 * 5000 > 10 * gz.archive_bytes  # repeated text shrinks
    assert gz.lines_printed == 5 and plain.lines_printed == 0  # "./" and the four files
    assert not list(tmp_path.glob("*.tar*"))  # archives deleted


def test_filesystem_type(tmp_path):
    assert isinstance(fc.filesystem_type(tmp_path), str) and fc.filesystem_type(tmp_path)


def test_bad_input_names_the_argument(tmp_path, tree):
    with pytest.raises(FileNotFoundError, match="directory"):
        fc.make_tree(tmp_path / "nowhere", 3, 10)
    with pytest.raises(ValueError, match="n_files"):
        fc.make_tree(tmp_path, 0, 10)
    with pytest.raises(ValueError, match="file_size"):
        fc.make_tree(tmp_path, 3, -1)
    with pytest.raises(TypeError, match="n_files"):
        fc.make_tree(tmp_path, 2.5, 10)
    with pytest.raises(FileNotFoundError, match="src"):
        fc.copy_tree(tmp_path / "missing", tmp_path / "x", "cp")
    with pytest.raises(FileNotFoundError, match="src"):
        fc.time_copy(tmp_path / "missing", "cp")
    with pytest.raises(ValueError, match="method"):
        fc.copy_tree(tree, tmp_path / "x", "rsync")
    with pytest.raises(FileExistsError, match="dst"):
        fc.copy_tree(tree, tree, "cp")
    with pytest.raises(ValueError, match="repeat"):
        fc.time_copy(tree, "cp", repeat=0)
    with pytest.raises(ValueError, match="tool"):
        fc.count_calls(tree, "cp", tool="python")
    with pytest.raises(ValueError, match="output"):
        fc.time_tar_create(tree, output="screen")
    with pytest.raises(FileNotFoundError, match="path"):
        fc.filesystem_type(tmp_path / "missing")
    with pytest.raises(ValueError, match="one method"):
        fc.fit_cost([fc.CopyTiming("cp", 1, 1, 1.0), fc.CopyTiming("copytree", 2, 2, 1.0)] * 2)

"""Safe outputs: atomic directories under exceptions and signals, stale temporaries, output preflight."""
from __future__ import annotations

import os
import signal
import subprocess
import sys

import pytest

from genoml_search.errors import UserError
from genoml_search.fileio import (atomic_directory, install_signal_handlers, read_text_file,
                                  remove_stale_temporaries, write_json)
from genoml_search.outputs import check_output_directory


def test_atomic_directory_keeps_previous_on_interrupt(tmp_path) -> None:
    target = tmp_path / "ds"
    target.mkdir()
    (target / "a.txt").write_text("old")
    with pytest.raises(KeyboardInterrupt):
        with atomic_directory(target) as tmp:
            (tmp / "a.txt").write_text("new, half written")
            raise KeyboardInterrupt
    assert (target / "a.txt").read_text() == "old"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["ds"]


def test_atomic_directory_replaces_on_success(tmp_path) -> None:
    target = tmp_path / "ds"
    target.mkdir()
    (target / "a.txt").write_text("old")
    with atomic_directory(target) as tmp:
        (tmp / "b.txt").write_text("new")
    assert sorted(p.name for p in target.iterdir()) == ["b.txt"]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["ds"]


@pytest.fixture
def default_sigint():
    """Python's own Ctrl-C handler, as a command starts with (an earlier test's cluster may have left another)."""
    previous = signal.signal(signal.SIGINT, signal.default_int_handler)
    yield
    signal.signal(signal.SIGINT, previous)


def test_signal_during_the_swap_is_held_until_it_is_done(tmp_path, monkeypatch, default_sigint) -> None:
    target = tmp_path / "ds"
    target.mkdir()
    (target / "old.txt").write_text("old")
    original = os.rename
    sent = []

    def rename_with_signal(src, dst):
        if not sent:  # Ctrl-C between the two renames of the swap
            sent.append(True)
            os.kill(os.getpid(), signal.SIGINT)
        return original(src, dst)

    with pytest.raises(KeyboardInterrupt):
        with atomic_directory(target) as tmp:
            (tmp / "new.txt").write_text("complete")
            monkeypatch.setattr(os, "rename", rename_with_signal)
    monkeypatch.undo()
    assert sent
    assert sorted(p.name for p in target.iterdir()) == ["new.txt"]  # swap finished, then the interrupt
    assert sorted(p.name for p in tmp_path.iterdir()) == ["ds"]


def test_stale_temporaries_of_dead_processes_are_removed(tmp_path) -> None:
    dead = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True, text=True)
    pid = int(dead.stdout)
    stale = tmp_path / f"ds.tmp-{pid}-abc"
    stale.mkdir()
    alive = tmp_path / f"ds.tmp-{os.getpid()}-xyz"
    alive.mkdir()
    removed = remove_stale_temporaries(tmp_path / "ds")
    assert removed == [stale] and not stale.exists() and alive.exists()


def test_check_output_directory(tmp_path) -> None:
    assert check_output_directory(tmp_path / "new" / "deeper" / "ds") == tmp_path / "new" / "deeper" / "ds"
    assert not (tmp_path / "new").exists()  # checked, not created
    (tmp_path / "file").write_text("x")
    with pytest.raises(UserError, match="not a directory"):
        check_output_directory(tmp_path / "file")
    with pytest.raises(UserError, match="is not a directory"):
        check_output_directory(tmp_path / "file" / "ds")
    mine = tmp_path / "mine"
    mine.mkdir()
    (mine / "notes.txt").write_text("keep me")
    with pytest.raises(UserError, match="refusing to replace"):
        check_output_directory(mine, "manifest.json")
    (mine / "manifest.json").write_text("{}")  # a manifest.json alone does not make it ours
    with pytest.raises(UserError, match="refusing to replace"):
        check_output_directory(mine, "manifest.json")
    empty = tmp_path / "empty"
    empty.mkdir()
    check_output_directory(empty, "manifest.json")


def test_sigterm_becomes_keyboard_interrupt() -> None:
    code = ("import os, signal, sys; from genoml_search.fileio import install_signal_handlers\n"
            "install_signal_handlers()\n"
            "try:\n    os.kill(os.getpid(), signal.SIGTERM)\n    import time; time.sleep(5)\n"
            "except KeyboardInterrupt:\n    sys.exit(42)\n")
    proc = subprocess.run([sys.executable, "-c", code], env={**os.environ, "PYTHONPATH": os.getcwd()}, timeout=60)
    assert proc.returncode == 42


def test_install_signal_handlers_off_main_thread_is_a_no_op() -> None:
    import threading

    before = signal.getsignal(signal.SIGTERM)
    thread = threading.Thread(target=install_signal_handlers)
    thread.start()
    thread.join()
    assert signal.getsignal(signal.SIGTERM) == before


@pytest.mark.parametrize("data,expected", [(b"\xef\xbb\xbfID\n", "ID\n"), ("ID\n".encode("utf-16"), "ID\n"),
                                           (b"ID\r\n", "ID\r\n")])
def test_read_text_file_encodings(tmp_path, data: bytes, expected: str) -> None:
    (tmp_path / "t").write_bytes(data)
    assert read_text_file(tmp_path / "t", "test") == expected


def test_read_text_file_errors(tmp_path) -> None:
    (tmp_path / "bad").write_bytes(b"ok\n\xff\xfa")
    with pytest.raises(UserError, match="not UTF-8 text \\(line 2\\)"):
        read_text_file(tmp_path / "bad", "test")
    (tmp_path / "nul").write_bytes(b"a\x00b")
    with pytest.raises(UserError, match="NUL"):
        read_text_file(tmp_path / "nul", "test")
    with pytest.raises(UserError, match="not found"):
        read_text_file(tmp_path / "none", "test")


def test_write_json_atomic(tmp_path) -> None:
    write_json(tmp_path / "x.json", {"a": 1})
    assert (tmp_path / "x.json").read_text().strip().startswith("{")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["x.json"]

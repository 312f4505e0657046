"""Third-party native log lines kept off stderr (avemo.io.native_logs): fd 2 silenced inside the block and restored
after it, nested and from several threads; the log-level variables; the switch."""

from __future__ import annotations

import os
import threading

import pytest

from avemo.io.native_logs import (NATIVE_LOGS_ENV, QUIET_LEVELS, native_logs_quieted, native_logs_shown,
                                  show_native_logs)


@pytest.fixture(autouse=True)
def quiet(monkeypatch):
    """The default (quiet), whatever the environment; the switch and the level variables restored afterwards."""
    monkeypatch.delenv(NATIVE_LOGS_ENV, raising=False)
    for name in QUIET_LEVELS:
        monkeypatch.delenv(name, raising=False)


def test_native_lines_stay_off_stderr_inside_the_block_only(capfd):
    os.write(2, b"before\n")
    with native_logs_quieted():
        os.write(2, b"W0000 a native line\n")
    os.write(2, b"after\n")
    assert capfd.readouterr().err == "before\nafter\n"


def test_stderr_is_restored_when_the_block_raises(capfd):
    with pytest.raises(RuntimeError), native_logs_quieted():
        raise RuntimeError("model failed to load")
    os.write(2, b"the error message\n")
    assert capfd.readouterr().err == "the error message\n"


def test_nested_and_concurrent_blocks_restore_stderr_once_all_have_left(capfd):
    inside = threading.Barrier(4)
    leave = threading.Barrier(4)

    def load_a_model():
        with native_logs_quieted():
            inside.wait(timeout=10)
            os.write(2, b"W0000 from a thread\n")
            leave.wait(timeout=10)

    threads = [threading.Thread(target=load_a_model) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    with native_logs_quieted():
        with native_logs_quieted():
            os.write(2, b"W0000 nested\n")
        os.write(2, b"W0000 still inside\n")
    os.write(2, b"after\n")
    assert capfd.readouterr().err == "after\n"


def test_log_levels_set_before_the_library_loads_but_the_users_kept(monkeypatch):
    monkeypatch.setenv("GLOG_minloglevel", "0")
    with native_logs_quieted():
        assert os.environ["GLOG_minloglevel"] == "0"
        assert os.environ["TF_CPP_MIN_LOG_LEVEL"] == QUIET_LEVELS["TF_CPP_MIN_LOG_LEVEL"]


def test_shown_lets_everything_through(capfd):
    assert not native_logs_shown()
    show_native_logs()
    assert native_logs_shown() and os.environ[NATIVE_LOGS_ENV] == "1"  # worker processes inherit it
    with native_logs_quieted():
        os.write(2, b"W0000 a native line\n")
        assert "TF_CPP_MIN_LOG_LEVEL" not in os.environ
    assert capfd.readouterr().err == "W0000 a native line\n"
    show_native_logs(False)
    assert not native_logs_shown()

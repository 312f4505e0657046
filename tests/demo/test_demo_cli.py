"""``avemo demo`` on the command line: a port it cannot use is a one-line error before any model loads."""

from __future__ import annotations

import socket

import pytest

from avemo.cli import main
from avemo.demo.web import check_port
from avemo.errors import ParameterError


def test_a_taken_port_is_one_line_and_exit_status_2(capsys, monkeypatch):
    def never(*args, **kwargs):
        raise AssertionError("the models must not load when the port is taken")

    monkeypatch.setattr("avemo.demo.web.InferenceEngine", never)
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        assert main(["demo", "--port", str(port)]) == 2
    err = capsys.readouterr().err
    assert err.startswith(f"avemo: error: cannot listen on 127.0.0.1:{port} (") and "--port" in err
    assert err.count("\n") == 1 and "Traceback" not in err


def test_check_port_refuses_impossible_ports():
    with pytest.raises(ParameterError, match="--port must be in 1..65535, got 70000"):
        check_port("127.0.0.1", 70000)
    with pytest.raises(ParameterError, match="cannot listen on 203.0.113.9"):   # not an address of this machine
        check_port("203.0.113.9", 7860)

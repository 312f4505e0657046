"""The REST service's threads: BLAS on one thread while it serves (the pool's threads are the parallelism), the
limit given back when it stops. Its own module: threadpoolctl lets one thread at a time hold OpenBLAS's limit, so
the check must not run while another app in this process serves (the module fixture of ``test_api.py``)."""

from __future__ import annotations

import pytest

from avemo.serve.app import ServeSettings, create_app


def test_the_service_runs_blas_on_one_thread_and_gives_the_limit_back():
    from fastapi.testclient import TestClient
    from threadpoolctl import threadpool_info

    def blas_threads() -> set[int]:
        return {pool["num_threads"] for pool in threadpool_info() if pool["user_api"] == "blas"}

    class NoModels:
        def close(self) -> None:
            pass

    before = blas_threads()
    if not before or max(before) < 2:
        pytest.skip(f"numpy's BLAS runs {before or 'no'} threads here: nothing to limit")
    with TestClient(create_app(ServeSettings(), lambda s: NoModels())):
        assert blas_threads() == {1}
    assert blas_threads() == before

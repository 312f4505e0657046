"""The REST service's threads: BLAS on one thread while it serves (the pool's threads are the parallelism), the
limit given back when it stops. Its own module: threadpoolctl lets one thread at a time hold OpenBLAS's limit, so
the check must not run while another app in this process serves (the module fixture of ``test_api.py``)."""

from __future__ import annotations

from avemo.serve.app import ServeSettings, create_app


def test_the_service_runs_blas_on_one_thread_and_gives_the_limit_back(blas_threads):
    from fastapi.testclient import TestClient

    class NoModels:
        def close(self) -> None:
            pass

    before = blas_threads()
    with TestClient(create_app(ServeSettings(), lambda s: NoModels())):
        assert blas_threads() == {1}
    assert blas_threads() == before

"""The REST service: ``avemo serve`` (FastAPI app over the inference engine, served by uvicorn)."""

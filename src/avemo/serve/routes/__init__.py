"""The service's endpoints, one router per module; :func:`avemo.serve.app.create_app` includes each. A new endpoint
is a new module here and one ``include_router`` line there."""

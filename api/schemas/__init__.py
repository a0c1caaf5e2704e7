"""The response bodies of the JSON API as pydantic models, one module per part of the API.

They document the answers in ``/openapi.json`` and ``/docs`` (each route names its model as
``response_model``); the routes still return bytes encoded once by orjson
(``api.responses.json_response``), which FastAPI passes through without validating them again,
so the models cost nothing per request. ``tests/api/test_schemathesis.py`` checks that the real
answers conform to them.
"""

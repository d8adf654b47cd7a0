"""Checking real answers against the OpenAPI document the service publishes.

:class:`Contract` finds the documented operation of a request (through the app's own URL map),
then checks that the status is documented for it, that the content type is one it documents,
and that a JSON body validates against its schema, with every ``$ref`` resolved inside the
document by ``referencing``. :class:`ContractClient` applies it to every answer it receives.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from flask import Flask
from flask.testing import FlaskClient
from jsonschema import Draft202012Validator
from referencing import Registry, Resource
from referencing.jsonschema import DRAFT202012
from werkzeug.exceptions import HTTPException

DOC_URI = "urn:medsearch:openapi"


def openapi_path(rule: str) -> str:
    """A Flask rule (``/api/images/<int:id>``) as an OpenAPI path (``/api/images/{id}``)."""
    return re.sub(r"<(?:[^:<>]+:)?([^<>]+)>", r"{\1}", rule)


def pointer(*parts: str) -> str:
    """A JSON pointer to ``parts`` (RFC 6901 escapes)."""
    return "".join("/" + part.replace("~", "~0").replace("/", "~1") for part in parts)


@dataclass
class Contract:
    """The document of one app, and the checks of answers against it."""

    app: Flask
    doc: dict[str, Any]

    @classmethod
    def of(cls, app: Flask) -> Contract:
        """The document ``app`` serves (fetched with its token when it has one)."""
        token = app.extensions["medsearch"].settings.api_token
        headers = {"Authorization": f"Bearer {token}"} if token else {}
        with app.test_client() as client:
            response = client.get("/api/openapi.json", headers=headers)
        assert response.status_code == 200, response.get_data(as_text=True)
        return cls(app, response.get_json())

    @property
    def registry(self) -> Registry:
        resource = Resource.from_contents(self.doc, default_specification=DRAFT202012)
        return Registry().with_resource(DOC_URI, resource)

    def operation(self, method: str, path: str) -> tuple[str, dict[str, Any]] | None:
        """The documented path and operation a request reaches, or None if undocumented."""
        adapter = self.app.url_map.bind("localhost")
        try:
            rule, _ = adapter.match(path, method, return_rule=True)
        except HTTPException:
            return None  # no such route or method: the error shape is checked elsewhere
        documented = openapi_path(rule.rule)
        operation = self.doc["paths"].get(documented, {}).get(method.lower())
        return None if operation is None else (documented, operation)

    def check(self, method: str, path: str, response: Any) -> bool:
        """Check an answer to ``method path``; False if that operation is not documented."""
        found = self.operation(method, path)
        if found is None:
            return False
        documented, operation = found
        status = str(response.status_code)
        where = f"{method} {path} answered {status}"
        assert status in operation["responses"], f"{where}, which is not documented"
        location = ("paths", documented, method.lower(), "responses", status)
        described = operation["responses"][status]
        if "$ref" in described:
            location = tuple(described["$ref"].removeprefix("#/").split("/"))
            described = self.registry.resolver(DOC_URI).lookup(described["$ref"]).contents
        content = described.get("content")
        if not content:
            assert response.get_data() == b"", f"{where} with a body it does not document"
            return True
        media = self._media_type(content, response.mimetype, where)
        if media == "application/json":
            body = response.get_json()
            ref = DOC_URI + "#" + pointer(*location, "content", media, "schema")
            validator = Draft202012Validator({"$ref": ref}, registry=self.registry)
            errors = [f"{list(e.absolute_path)}: {e.message}" for e in validator.iter_errors(body)]
            assert not errors, f"{where} with a body its schema refuses: {errors}"
        return True

    @staticmethod
    def _media_type(content: dict[str, Any], mimetype: str, where: str) -> str:
        for media in content:
            family, _, kind = media.partition("/")
            if media == mimetype or (kind == "*" and mimetype.startswith(family + "/")):
                return media
        raise AssertionError(f"{where} as {mimetype}, not one of {sorted(content)}")


class ContractClient(FlaskClient):
    """A Flask test client that checks every answer of a documented operation."""

    contract: Contract

    @classmethod
    def of(cls, app: Flask) -> ContractClient:
        """A client of ``app`` checking each answer against the document ``app`` serves."""
        client = cls(app, app.response_class, use_cookies=True)
        client.contract = Contract.of(app)
        return client

    def open(self, *args: Any, **kwargs: Any) -> Any:
        response = super().open(*args, **kwargs)
        self.contract.check(response.request.method, response.request.path, response)
        return response

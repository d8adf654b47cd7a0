"""The web blueprint on its own (no index, no browser): page, assets, headers, offline rules."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from flask import Flask
from flask.testing import FlaskClient

import web

STATIC = Path(web.__file__).parent / "static"
TEMPLATES = Path(web.__file__).parent / "templates"


@pytest.fixture()
def client() -> FlaskClient:
    app = Flask("web_test")
    app.register_blueprint(web.create_blueprint())
    return app.test_client()


def test_blueprint_is_named_web() -> None:
    assert web.create_blueprint().name == "web"


def test_index_page(client: FlaskClient) -> None:
    response = client.get("/")
    assert response.status_code == 200
    assert response.mimetype == "text/html"
    html = response.get_data(as_text=True)
    assert 'data-api-base="/api"' in html
    assert "/assets/app.js" in html and "/assets/style.css" in html
    assert "Research use only" in html
    policy = response.headers["Content-Security-Policy"]
    assert "script-src 'self'" in policy and "connect-src 'self'" in policy


def test_api_base_follows_the_mount_point(client: FlaskClient) -> None:
    html = client.get("/", environ_overrides={"SCRIPT_NAME": "/medsearch"}).get_data(as_text=True)
    assert 'data-api-base="/medsearch/api"' in html
    assert 'src="/medsearch/assets/app.js"' in html


@pytest.mark.parametrize("name", sorted(path.name for path in STATIC.iterdir()))
def test_assets_are_served(client: FlaskClient, name: str) -> None:
    response = client.get(f"/assets/{name}")
    assert response.status_code == 200
    assert response.data == (STATIC / name).read_bytes()
    response.close()


def test_every_module_import_resolves() -> None:
    for script in STATIC.glob("*.js"):
        for target in re.findall(r"from '\./([\w.]+)'", script.read_text()):
            assert (STATIC / target).is_file(), f"{script.name} imports missing {target}"


def test_works_offline_and_never_parses_html_from_strings() -> None:
    files = [*STATIC.glob("*.js"), *STATIC.glob("*.css"), *TEMPLATES.rglob("*.html")]
    for path in files:
        text = path.read_text()
        # No CDNs, web fonts or remote assets: every URL is relative to the service.
        assert not re.search(r"""(src|href)=["']?(https?:)?//""", text), path.name
        assert "@import" not in text and "url(http" not in text, path.name
        if path.suffix == ".js":
            sink = re.search(r"\.(innerHTML|outerHTML|insertAdjacentHTML|write(ln)?)\b", text)
            assert sink is None, f"{path.name} uses {sink and sink.group(0)}"
            assert "eval(" not in text and "new Function" not in text, path.name

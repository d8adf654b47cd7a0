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


#: the page's JavaScript modules, relative to STATIC
MODULES = sorted(path.relative_to(STATIC).as_posix() for path in STATIC.rglob("*.js"))
#: which folders a module may import from: a folder's rule, or a module's own where it has one
MAY_IMPORT = {
    "lib": {"lib"},
    "render": {"lib", "render"},
    "state.js": {"lib"},  # the state and its steps are pure: no document, no rendering
    ".": {".", "lib", "render"},
}


def imports_of(module: str) -> list[str]:
    """The modules a module imports, relative to STATIC (``import ... from './x.js'``)."""
    script = STATIC / module
    targets = re.findall(
        r"^(?:import|export) [^;]*? from '(\.{1,2}/[^']+)';", script.read_text(), re.M
    )
    return [
        (script.parent / target).resolve().relative_to(STATIC.resolve()).as_posix()
        for target in targets
    ]


@pytest.mark.parametrize(
    "name",
    sorted(path.relative_to(STATIC).as_posix() for path in STATIC.rglob("*") if path.is_file()),
)
def test_assets_are_served(client: FlaskClient, name: str) -> None:
    response = client.get(f"/assets/{name}")
    assert response.status_code == 200
    assert response.data == (STATIC / name).read_bytes()
    response.close()


def test_every_module_import_resolves() -> None:
    assert {"app.js", "state.js", "update.js", "lib/api.js", "render/results.js"} <= set(MODULES)
    for module in MODULES:
        for target in imports_of(module):
            assert (STATIC / target).is_file(), f"{module} imports missing {target}"


def test_modules_import_by_layer_without_cycles() -> None:
    graph = {module: imports_of(module) for module in MODULES}
    for module, targets in graph.items():
        allowed = MAY_IMPORT.get(module) or MAY_IMPORT[str(Path(module).parent)]
        for target in targets:
            assert target != "app.js", f"{module} imports the entry module"
            assert str(Path(target).parent) in allowed, f"{module} may not import {target}"

    def visit(module: str, path: tuple[str, ...]) -> None:
        assert module not in path, "import cycle: " + " -> ".join([*path, module])
        for target in graph[module]:
            visit(target, (*path, module))

    for module in MODULES:
        visit(module, ())


def test_works_offline_and_never_parses_html_from_strings() -> None:
    files = [*STATIC.rglob("*.js"), *STATIC.rglob("*.css"), *TEMPLATES.rglob("*.html")]
    for path in files:
        text = path.read_text()
        # No CDNs, web fonts or remote assets: every URL is relative to the service.
        assert not re.search(r"""(src|href)=["']?(https?:)?//""", text), path.name
        assert "@import" not in text and "url(http" not in text, path.name
        if path.suffix == ".js":
            sink = re.search(r"\.(innerHTML|outerHTML|insertAdjacentHTML|write(ln)?)\b", text)
            assert sink is None, f"{path.name} uses {sink and sink.group(0)}"
            assert "eval(" not in text and "new Function" not in text, path.name

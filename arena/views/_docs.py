"""The API docs page (``/docs``), made here from the OpenAPI schema: FastAPI's Swagger UI loads its
scripts from a CDN, so offline (or behind a strict proxy) it was a blank page. This one is plain
HTML with no script and no outside resource; ``/openapi.json`` stays the exact schema."""

from __future__ import annotations

import html
from typing import Any

METHODS = ("get", "post", "put", "patch", "delete")


def _schema_name(schema: dict[str, Any] | None) -> str:
    """A short name for a schema: its ``$ref`` target, ``list[X]``, or its type."""
    if not schema:
        return ""
    if "$ref" in schema:
        return str(schema["$ref"]).rsplit("/", 1)[-1]
    if schema.get("type") == "array":
        return f"list[{_schema_name(schema.get('items'))}]"
    if "anyOf" in schema:
        return " | ".join(_schema_name(s) for s in schema["anyOf"])
    return str(schema.get("type", ""))


def _operation(path: str, method: str, op: dict[str, Any]) -> str:
    e = html.escape
    params = [
        f"<li><code>{e(p['name'])}</code> ({e(p.get('in', ''))}"
        f"{', required' if p.get('required') else ''}): {e(_schema_name(p.get('schema')))}"
        f"{' — ' + e(p['description']) if p.get('description') else ''}</li>"
        for p in op.get("parameters", [])
    ]
    body = op.get("requestBody", {}).get("content", {})
    sent = [f"<li>body ({e(kind)}): {e(_schema_name(c.get('schema')))}</li>"
            for kind, c in body.items()]  # fmt: skip
    answers = []
    for code, response in sorted(op.get("responses", {}).items()):
        schema = response.get("content", {}).get("application/json", {}).get("schema")
        answers.append(f"<li>{e(code)}: {e(response.get('description', ''))} "
                       f"{e(_schema_name(schema))}</li>")  # fmt: skip
    text = op.get("description") or op.get("summary") or ""
    return (
        f"<section><h3><code>{e(method.upper())} {e(path)}</code></h3><p>{e(text)}</p>"
        f"<ul>{''.join(params + sent)}</ul><p>Responses:</p><ul>{''.join(answers)}</ul></section>"
    )


def _model(name: str, schema: dict[str, Any]) -> str:
    e = html.escape
    rows = [
        f"<tr><td><code>{e(field)}</code></td><td>{e(_schema_name(spec))}</td>"
        f"<td>{e(spec.get('description', ''))}</td></tr>"
        for field, spec in schema.get("properties", {}).items()
    ]
    return (
        f"<section><h3 id='{e(name)}'>{e(name)}</h3><p>{e(schema.get('description', ''))}</p>"
        f"<table><tr><th>field</th><th>type</th><th>meaning</th></tr>{''.join(rows)}</table>"
        "</section>"
    )


def docs_html(openapi: dict[str, Any]) -> str:
    """The docs page of an OpenAPI schema: every operation, then every model with each field's
    meaning (our models document every field)."""
    e = html.escape
    info = openapi.get("info", {})
    operations = [
        _operation(path, method, op)
        for path, ops in sorted(openapi.get("paths", {}).items())
        for method, op in ops.items()
        if method in METHODS
    ]
    models = [_model(n, s) for n, s in sorted(openapi.get("components", {}).get("schemas", {})
                                              .items())]  # fmt: skip
    style = (
        "body{font-family:sans-serif;max-width:960px;margin:2em auto;padding:0 1em}"
        "table{border-collapse:collapse}td,th{border:1px solid #ccc;padding:4px;text-align:left}"
        "section{margin-bottom:1.5em}"
    )
    return (
        f"<!doctype html><html><head><meta charset='utf-8'><title>{e(info.get('title', 'API'))}"
        f" API</title><style>{style}</style></head><body><h1>{e(info.get('title', 'API'))} API"
        "</h1><p>The exact schema: <a href='/openapi.json'>/openapi.json</a>.</p>"
        f"<h2>Routes</h2>{''.join(operations)}<h2>Models</h2>{''.join(models)}</body></html>"
    )


__all__ = ["docs_html"]

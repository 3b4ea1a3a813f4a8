"""The OpenAPI 3.1 document, assembled from what each API module declares."""
import re

_paths: dict[str, dict] = {}
_schemas: dict[str, dict] = {}


def path(route: str, method: str, summary: str, *, parameters=None, request_body=None,
         responses=None, tags=()) -> None:
    """Declare one operation, e.g. path("/devices/{code}", "get", "One device", tags=["inventory"],
    parameters=[path_param("code", "Device code")]). Every {name} in the route must be declared as a path parameter
    (a ValueError at import otherwise: clients and schemathesis need to know what goes there)."""
    declared = {p["name"] for p in parameters or () if p.get("in") == "path"}
    missing = set(re.findall(r"{(\w+)}", route)) - declared
    if missing:
        raise ValueError(f"{method.upper()} {route}: path parameter(s) {sorted(missing)} not declared")
    op = {"summary": summary, "tags": list(tags), "responses": responses or {"200": {"description": "OK"}}}
    if parameters:
        op["parameters"] = parameters
    if request_body:
        op["requestBody"] = request_body
    _paths.setdefault(route, {})[method.lower()] = op


def schema(name: str, body: dict) -> None:
    _schemas[name] = body


def path_param(name: str, description: str, type_: str = "string") -> dict:
    """A path parameter; an integer id is at least 1 (and fits the database's integer)."""
    schema = {"type": type_}
    if type_ == "integer":
        schema.update(minimum=1, maximum=2**31 - 1)
    return {"name": name, "in": "path", "required": True, "description": description, "schema": schema}


def query_param(name: str, description: str, type_: str = "string", required: bool = False) -> dict:
    return {"name": name, "in": "query", "required": required, "description": description,
            "schema": {"type": type_}}


def document() -> dict:
    return {
        "openapi": "3.1.0",
        "info": {"title": "fleetops API", "version": "1",
                 "description": "Traffic-enforcement camera fleet: inventory, monitoring, tickets, quality."},
        "servers": [{"url": "/api/v1"}],
        "components": {
            "securitySchemes": {"bearer": {"type": "http", "scheme": "bearer"}},
            "schemas": dict(_schemas),
        },
        "security": [{"bearer": []}],
        "paths": dict(sorted(_paths.items())),
    }

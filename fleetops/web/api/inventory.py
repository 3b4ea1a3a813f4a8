"""JSON API for the inventory: sites and devices (list with filters and paging, one, create, update); secrets never returned."""
from datetime import date, datetime

from flask import g, jsonify, request

from fleetops.domain.errors import ValidationFailed
from fleetops.domain.text import Msg
from fleetops.services import inventory
from fleetops.web import db_session
from fleetops.web.api import api_roles, bp, openapi

READERS = ("crew", "supervisor")
WRITERS = ("supervisor",)  # admin always passes
PAGE_PARAMS = [openapi.query_param("page", "Page number, from 1", "integer"),
               openapi.query_param("per_page", "Items per page (1–200, default 50)", "integer")]


def _json(values: dict) -> dict:
    return {k: (v.isoformat() if isinstance(v, (date, datetime)) else v) for k, v in values.items()}


def _body() -> dict:
    body = request.get_json(silent=True)
    if not isinstance(body, dict):
        raise ValidationFailed(Msg("The request body must be a JSON object."))
    return body


def _strings(body: dict, allowed) -> dict:
    """JSON values → the strings the services parse (the same rules as forms and spreadsheets)."""
    unknown = sorted(set(body) - set(allowed) - {"code", "version"})
    if unknown:
        raise ValidationFailed(Msg("Unknown fields: %(fields)s", fields=", ".join(unknown)),
                               errors={k: "unknown" for k in unknown})
    out = {}
    for k, v in body.items():
        if k in ("code", "version"):
            continue
        if isinstance(v, bool):
            out[k] = "yes" if v else "no"
        elif v is None:
            out[k] = ""
        elif isinstance(v, (str, int, float)):
            out[k] = str(v)
        else:
            raise ValidationFailed(Msg("%(field)s must be a string or a number.", field=k), errors={k: "type"})
    return out


def _page_json(page, render) -> dict:
    return {"items": [render(x) for x in page.items], "total": page.total, "page": page.page,
            "per_page": page.per_page, "pages": page.pages}


# ---------------------------------------------------------------- devices

DEVICE_FILTERS = ("q", "kind", "district", "lifecycle", "status", "key_site", "site_code")
openapi.schema("Device", {"type": "object", "description": "A device; secrets are write-only (see secrets_set).",
                          "properties": {f: {"type": "string"} for f in ("code", *inventory.DEVICE_FIELDS)}
                          | {"version": {"type": "integer"}, "secrets_set": {"type": "array", "items": {"type": "string"}}}})
openapi.schema("Site", {"type": "object", "properties": {f: {"type": "string"} for f in ("code", *inventory.SITE_FIELDS)}
                        | {"latitude": {"type": "number"}, "longitude": {"type": "number"},
                           "key_site": {"type": "boolean"}, "version": {"type": "integer"}}})
_device_ref = {"content": {"application/json": {"schema": {"$ref": "#/components/schemas/Device"}}}}
_site_ref = {"content": {"application/json": {"schema": {"$ref": "#/components/schemas/Site"}}}}
_errors = {"401": {"description": "No or bad token"}, "403": {"description": "Role may not do this"},
           "404": {"description": "Not found"}, "409": {"description": "Changed by someone else (send version)"},
           "422": {"description": "Invalid values: {error, details: {errors: {field: message}}}"}}

openapi.path("/devices", "get", "List devices (filters, paging)", tags=["inventory"],
             parameters=[openapi.query_param(f, f"Filter: {f}") for f in DEVICE_FILTERS] + PAGE_PARAMS)
openapi.path("/devices", "post", "Create a device (supervisor/admin)", tags=["inventory"], request_body=_device_ref,
             responses={"201": {"description": "Created", **_device_ref}, **_errors})
openapi.path("/devices/{code}", "get", "One device", tags=["inventory"],
             parameters=[openapi.path_param("code", "Device code")],
             responses={"200": {"description": "OK", **_device_ref}, **_errors})
openapi.path("/devices/{code}", "patch", "Change a device's fields (supervisor/admin); send version to detect "
             "concurrent edits; empty secrets keep the stored ones", tags=["inventory"], request_body=_device_ref,
             parameters=[openapi.path_param("code", "Device code")],
             responses={"200": {"description": "OK", **_device_ref}, **_errors})


@bp.route("/devices", methods=["GET"])
@api_roles(*READERS)
def api_devices():
    filters = {k: request.args.get(k, "") for k in DEVICE_FILTERS}
    page = inventory.list_devices(db_session(), page=request.args.get("page"),
                                  per_page=request.args.get("per_page"), **filters)
    return jsonify(_page_json(page, lambda d: _json(inventory.public_device(d))))


@bp.route("/devices/<code>", methods=["GET"])
@api_roles(*READERS)
def api_device(code):
    return jsonify(_json(inventory.public_device(inventory.get_device(db_session(), code))))


@bp.route("/devices", methods=["POST"])
@api_roles(*WRITERS)
def api_device_create():
    body = _body()
    s = db_session()
    dev = inventory.save_device(s, None, _strings(body, inventory.DEVICE_FIELDS), g.api_user,
                                new_code=str(body.get("code") or ""))
    s.commit()
    return jsonify(_json(inventory.public_device(dev))), 201


@bp.route("/devices/<code>", methods=["PATCH"])
@api_roles(*WRITERS)
def api_device_update(code):
    body = _body()
    s = db_session()
    dev = inventory.save_device(s, code, _strings(body, inventory.DEVICE_FIELDS), g.api_user,
                                expected_version=body.get("version"))
    s.commit()
    return jsonify(_json(inventory.public_device(dev)))


# ---------------------------------------------------------------- sites

openapi.path("/sites", "get", "List sites (search, district, key site, paging)", tags=["inventory"],
             parameters=[openapi.query_param(f, f"Filter: {f}") for f in ("q", "district", "key_site")] + PAGE_PARAMS)
openapi.path("/sites", "post", "Create a site (supervisor/admin)", tags=["inventory"], request_body=_site_ref,
             responses={"201": {"description": "Created", **_site_ref}, **_errors})
openapi.path("/sites/{code}", "get", "One site with its device codes", tags=["inventory"],
             parameters=[openapi.path_param("code", "Site code")],
             responses={"200": {"description": "OK", **_site_ref}, **_errors})
openapi.path("/sites/{code}", "patch", "Change a site's fields (supervisor/admin)", tags=["inventory"],
             request_body=_site_ref,
             parameters=[openapi.path_param("code", "Site code")],
             responses={"200": {"description": "OK", **_site_ref}, **_errors})


@bp.route("/sites", methods=["GET"])
@api_roles(*READERS)
def api_sites():
    page = inventory.list_sites(db_session(), page=request.args.get("page"), per_page=request.args.get("per_page"),
                                **{k: request.args.get(k, "") for k in ("q", "district", "key_site")})
    return jsonify(_page_json(page, lambda row: _json(inventory.public_site(row[0])) | {"devices": row[1]}))


@bp.route("/sites/<code>", methods=["GET"])
@api_roles(*READERS)
def api_site(code):
    site, devices = inventory.site_detail(db_session(), code)
    return jsonify(_json(inventory.public_site(site)) | {"devices": [d.code for d in devices],
                                                         "cabinets": [c.code for c in site.cabinets]})


@bp.route("/sites", methods=["POST"])
@api_roles(*WRITERS)
def api_site_create():
    body = _body()
    s = db_session()
    site = inventory.save_site(s, None, _strings(body, (*inventory.SITE_FIELDS, "depot")), g.api_user,
                               new_code=str(body.get("code") or ""))
    s.commit()
    return jsonify(_json(inventory.public_site(site))), 201


@bp.route("/sites/<code>", methods=["PATCH"])
@api_roles(*WRITERS)
def api_site_update(code):
    body = _body()
    s = db_session()
    site = inventory.save_site(s, code, _strings(body, (*inventory.SITE_FIELDS, "depot")), g.api_user,
                               expected_version=body.get("version"))
    s.commit()
    return jsonify(_json(inventory.public_site(site)))

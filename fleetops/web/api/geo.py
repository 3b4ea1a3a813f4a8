"""Issue 13: GET /api/v1/sites.geojson — the fleet map's data: one GeoJSON Point per site in WGS-84 [lon, lat]
(RFC 7946) with its status, devices down and open tickets. One aggregate query (services/reports/geo.py).

Bearer token as every API endpoint, or the login session (the map page's script fetches it): see
`SESSION_ENDPOINTS` in this package's `__init__`."""
from flask import g, jsonify, request

from fleetops.services.reports import geo as geo_queries
from fleetops.web import db_session
from fleetops.web.api import api_roles, bp, openapi


@bp.route("/sites.geojson")
@api_roles("crew", "supervisor")
def sites_geojson():
    user = g.api_user
    district = (user.district or "") if user.role == "crew" else ""
    # ?display=gcj02: also where to draw each site on GCJ-02 tiles (properties.display); geometry stays WGS-84.
    resp = jsonify(geo_queries.sites_geojson(db_session(), district=district,
                                             display_gcj02=request.args.get("display") == "gcj02"))
    resp.headers["Content-Type"] = "application/geo+json"
    resp.headers["Cache-Control"] = "no-store"
    return resp


openapi.schema("SiteFeature", {"type": "object", "required": ["type", "geometry", "properties"], "properties": {
    "type": {"const": "Feature"},
    "geometry": {"type": "object", "properties": {"type": {"const": "Point"}, "coordinates": {
        "type": "array", "items": {"type": "number"}, "minItems": 2, "maxItems": 2,
        "description": "[longitude, latitude], WGS-84"}}},
    "properties": {"type": "object", "required": ["code", "name", "status", "devices_down", "open_tickets"],
                   "properties": {"code": {"type": "string"}, "name": {"type": "string"},
                                  "status": {"enum": ["up", "some_down", "dark", "unknown", "maintenance"]},
                                  "devices_down": {"type": "integer"}, "open_tickets": {"type": "integer"}}}}})
openapi.path("/sites.geojson", "get", "Sites as a GeoJSON FeatureCollection (WGS-84 [lon, lat]) with their status",
             tags=["monitoring"], parameters=[openapi.query_param(
                 "display", "gcj02: add properties.display, the GCJ-02 [lon, lat] to draw on GCJ-02 tiles")],
             responses={"200": {"description": "FeatureCollection", "content": {
                 "application/geo+json": {"schema": {"type": "object", "properties": {
                     "type": {"const": "FeatureCollection"},
                     "features": {"type": "array", "items": {"$ref": "#/components/schemas/SiteFeature"}}}}}}}})

"""The API a probe agent talks to (issue 14), with its own token ("fa_…", never a person's):

GET  /api/v1/agent/config   its device list and probe settings; ETag = the version (If-None-Match → 304)
POST /api/v1/probe-results  the one ingest endpoint: with an agent token the body is
                            {"batch_id", "agent": {spool_depth, lag_s, version, dropped}, "results": [...]},
                            devices outside its scope are refused per line, a batch id is applied once.
"""
import logging

from flask import current_app, g, jsonify, request
from sqlalchemy.exc import OperationalError

from fleetops.domain.errors import DuplicateRequest, ValidationFailed
from fleetops.domain.text import Msg
from fleetops.services import agents
from fleetops.services.monitoring import IngestConfig
from fleetops.web import db_session
from fleetops.web.api import AGENT_ENDPOINTS, bp, openapi

log = logging.getLogger(__name__)
MAX_BATCH = 50_000

AGENT_ENDPOINTS.update({"api.agent_config", "api.post_probe_results"})


@bp.route("/agent/config")
def agent_config():
    agent = g.get("api_agent")
    if agent is None:  # a person's token: this is the agents' endpoint
        return jsonify({"error": str(Msg("Only a probe agent's token can fetch an agent configuration."))}), 403
    s = db_session()
    body = agents.agent_config(s, agent, current_app.config)
    s.commit()
    etag = body["version"]
    if etag in request.if_none_match:
        resp = current_app.response_class(status=304)
    else:
        resp = jsonify(body)
    resp.set_etag(etag)
    resp.headers["Cache-Control"] = "no-store"  # it carries SNMP credentials
    return resp


def post_agent_batch(agent):
    """POST /probe-results with an agent's token (called by the monitoring API's route)."""
    body = request.get_json(silent=True)
    if not isinstance(body, dict) or not isinstance(body.get("results"), list):
        raise ValidationFailed(Msg('Send {"batch_id": …, "agent": {…}, "results": [...]}.'), field="results")
    items = body["results"]
    if len(items) > MAX_BATCH:
        raise ValidationFailed(Msg("At most %(n)s results per batch.", n=MAX_BATCH), field="results")
    health = agents.read_health(body.get("agent"))
    s = db_session()
    agent_id, name = agent.id, agent.name
    try:
        summary = agents.ingest_batch(s, agent, items, body.get("batch_id"), health,
                                      IngestConfig.from_app_config(current_app.config))
        s.commit()
    except DuplicateRequest:  # sent again (its answer was lost): applied once already
        s.rollback()
        agents.record_health(s, agents.get_agent(s, agent_id), {**health, "dropped": 0})
        s.commit()
        return jsonify({"duplicate": True, "received": len(items), "stored": 0}), 200
    except OperationalError:  # SQLite busy with the scheduler's own poll: nothing was kept, send again
        s.rollback()
        log.warning("agent=%s batch of %d refused: database busy", name, len(items))
        return jsonify({"error": str(Msg("Database busy; nothing was written, send the batch again."))}), 503
    out = summary.as_dict(with_lines=True)
    out["duplicate"] = False
    return jsonify(out), 200


openapi.path("/agent/config", "get", "A probe agent's device list and probe settings (agent token; ETag)",
             tags=["agents"], responses={"200": {"description": "version, settings, devices"},
                                         "304": {"description": "Unchanged since If-None-Match"}})

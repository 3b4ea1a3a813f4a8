"""P1/P2: `fleetops inspections preset NAME` loads a contract's plans (again: nothing doubled), `plans` lists them,
`generate --at` makes the due orders as the scheduler's job would; the demo fleet comes with the checkpoint preset;
the job itself is wired and runs."""
import json

import pytest
from click.testing import CliRunner
from sqlalchemy import func, select

import fleetops.cli
from fleetops import wiring
from fleetops.cli import main
from fleetops.models.inspections import InspectionOrder, InspectionPlan
from fleetops.platform.jobs import JobContext
from fleetops.services import inspections
from tests.tickets_fixtures import make_fleet


@pytest.fixture
def run(app, monkeypatch):
    monkeypatch.setattr(fleetops.cli, "_app", app)

    def invoke(*args):
        return CliRunner().invoke(main, list(args), catch_exceptions=False)

    return invoke


def test_preset_plans_and_generate_from_the_command_line(run, db, users):
    make_fleet(db, users["crew"])
    db.commit()
    first = run("inspections", "preset", "checkpoint_om")
    assert first.exit_code == 0 and "新增 4 个计划" in first.output
    again = run("inspections", "preset", "checkpoint_om")
    assert again.exit_code == 0 and "新增 0 个计划，4 个已存在" in again.output
    assert run("inspections", "preset", "offsite_enforcement").exit_code == 0
    plans = json.loads(run("inspections", "plans").output)
    assert sorted(p["key"] for p in plans) == ["cabinet_quarterly", "enforcement_monthly", "key_site_patrol",
                                               "lens_cleaning", "lights_night_check"]
    assert next(p for p in plans if p["key"] == "lights_night_check")["at_night"] is True
    bad = run("inspections", "preset", "nonsense")
    assert bad.exit_code != 0 and db.scalar(select(func.count()).select_from(InspectionPlan)) == 5
    out = json.loads(run("inspections", "generate", "--at", "2026-06-02T08:00").output)
    # K-105 (key site): 2 cameras × patrol + lens cleaning, 1 cabinet; K-230: 1 speed camera × (lens + enforcement).
    assert out["created"] == 2 + 2 + 1 + 1 + 1
    assert json.loads(run("inspections", "generate", "--at", "2026-06-02T09:00").output)["created"] == 0
    assert run("inspections", "generate", "--at", "yesterday").exit_code != 0


def test_demo_fleet_comes_with_the_checkpoint_preset_and_the_job_runs(app, db):
    from fleetops.services.inventory.demo import load_demo_fleet

    load_demo_fleet(db, n_devices=60)
    db.commit()
    assert {p.key for p in inspections.list_plans(db)} == {"key_site_patrol", "lens_cleaning", "lights_night_check",
                                                           "cabinet_quarterly"}
    job = next(j for j in wiring.JOBS if j.id == "inspections")
    job.func(JobContext.from_app(app))
    job.func(JobContext.from_app(app))
    db.expire_all()
    n = db.scalar(select(func.count()).select_from(InspectionOrder))
    assert n > 0
    pairs = db.execute(select(InspectionOrder.plan_id, InspectionOrder.device_id, InspectionOrder.period_start)).all()
    assert len(set(pairs)) == n

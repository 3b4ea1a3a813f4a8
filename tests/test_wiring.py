"""The wiring is explicit: every subscriber, job, command, blueprint, menu list and parameter table that the
code defines is listed in fleetops.wiring — a new one that is not wired fails here, by name."""
import importlib
import inspect
import pkgutil

import click
from flask import Blueprint

import fleetops
from fleetops import wiring
from fleetops.platform import events


def _modules(package: str):
    pkg = importlib.import_module(package)
    yield pkg
    for info in pkgutil.walk_packages(pkg.__path__, package + "."):
        if info.name.endswith("__main__"):
            continue
        yield importlib.import_module(info.name)


def _defined(package: str, predicate):
    """(module, name, object) for objects defined in (not imported into) the modules of `package`."""
    for module in _modules(package):
        for name, obj in vars(module).items():
            if predicate(name, obj) and getattr(obj, "__module__", module.__name__) == module.__name__:
                yield module.__name__, name, obj


def test_every_event_subscriber_is_wired():
    wired = {h for _e, h in wiring.SUBSCRIPTIONS}
    found = [(m, n) for m, n, f in _defined("fleetops.services", lambda n, o: n[3:] in events.EVENTS and n.startswith("on_") and inspect.isfunction(o))
             if f not in wired]
    assert found == [], f"subscribers not listed in wiring.SUBSCRIPTIONS: {found}"


def test_subscriptions_are_known_events_and_connected():
    for event, handler in wiring.SUBSCRIPTIONS:
        assert event in events.EVENTS
        assert handler in events.handlers(event)


def test_every_job_is_wired_once():
    wired = [j.func for j in wiring.JOBS]
    assert len({j.id for j in wiring.JOBS}) == len(wiring.JOBS)
    found = [(m, n) for m, n, f in _defined("fleetops.services", lambda n, o: n.startswith("job_") and inspect.isfunction(o))
             if f not in wired]
    assert found == [], f"jobs not listed in wiring.JOBS: {found}"


def test_every_cli_command_is_wired():
    root = set(fleetops.cli.main.commands.values())
    found = [(m, n) for m, n, c in _defined("fleetops.cli", lambda n, o: isinstance(o, click.Command))
             if c is not fleetops.cli.main and c not in root and not _is_subcommand(c)]
    assert found == [], f"commands not added by wiring.CLI_COMMANDS: {found}"


def _is_subcommand(cmd) -> bool:
    return any(isinstance(g, click.Group) and cmd in g.commands.values()
               for g in fleetops.cli.main.commands.values())


def test_every_blueprint_and_menu_list_is_wired():
    bps = [(m, n) for m, n, b in _defined("fleetops.web", lambda n, o: isinstance(o, Blueprint))
           if b not in wiring.BLUEPRINTS]
    assert bps == [], f"blueprints not in wiring.BLUEPRINTS: {bps}"
    for module in _modules("fleetops.web"):
        for item in getattr(module, "NAV", ()):
            assert item in wiring.NAV, f"{module.__name__}.NAV entry {item.endpoint} not in wiring.NAV"


def test_every_parameter_table_is_wired():
    wired = [id(d) for d in wiring.PARAMETER_DEFAULTS]
    found = [(m, n) for m, n, d in _defined("fleetops.services", lambda n, o: n == "PARAMETERS" and isinstance(o, dict))
             if id(d) not in wired]
    # dicts have no __module__: check by identity against each module's own PARAMETERS
    assert found == [], f"PARAMETERS not listed in wiring.PARAMETER_DEFAULTS: {found}"


def test_the_app_gets_the_wired_jobs_and_blueprints(app):
    assert app.extensions["fleetops.jobs"] == wiring.JOBS
    for bp in wiring.BLUEPRINTS:
        assert app.blueprints[bp.name] is bp


def test_every_flush_hook_is_wired():
    from sqlalchemy import event
    from sqlalchemy.orm import Session

    found = [(m, n) for m, n, f in _defined("fleetops.services", lambda n, o: n == "before_flush" and inspect.isfunction(o))
             if f not in wiring.FLUSH_HOOKS]
    assert found == [], f"flush hooks not listed in wiring.FLUSH_HOOKS: {found}"
    assert all(event.contains(Session, "before_flush", h) for h in wiring.FLUSH_HOOKS)

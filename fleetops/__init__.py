"""fleetops: create_app(config=None) builds the Flask application — config → db → i18n → web → wiring."""
import logging
from pathlib import Path

from flask import Flask

from fleetops.config import PROJECT_ROOT, default_instance_path, load_config

log = logging.getLogger(__name__)


def create_app(config: dict | None = None) -> Flask:
    instance_path = Path((config or {}).get("INSTANCE_PATH") or default_instance_path())
    instance_path.mkdir(parents=True, exist_ok=True)
    app = Flask(
        __name__,
        instance_path=str(instance_path),
        template_folder=str(PROJECT_ROOT / "templates"),
        static_folder=str(PROJECT_ROOT / "static"),
    )
    app.config.update(load_config(instance_path, config))

    from fleetops.models import crypto

    crypto.configure(crypto.keys_from_config(app.config, instance_path), source=instance_path)

    from fleetops.db import make_engine, make_sessionmaker

    engine = make_engine(app.config["DATABASE_URL"])
    app.extensions["fleetops.engine"] = engine
    app.extensions["fleetops.sessionmaker"] = make_sessionmaker(engine)

    from fleetops import wiring
    from fleetops.platform import i18n
    from fleetops.web import init_web

    translations = i18n.compile_catalogs(instance_path / "translations")
    app.config["BABEL_TRANSLATION_DIRECTORIES"] = str(translations)
    app.config["BABEL_DEFAULT_LOCALE"] = i18n.DEFAULT_LOCALE
    app.config["BABEL_DEFAULT_TIMEZONE"] = app.config["TIMEZONE"]
    init_web(app)
    wiring.init_app(app)
    return app

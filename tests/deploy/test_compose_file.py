"""docker-compose.yml, checked without Docker: the services, that both app replicas share
one Redis and one database, and that what they mount and build exists in the repo."""

from __future__ import annotations

import json
import re
from typing import Any

import yaml

from mlp_playground.config import Settings
from tests.support.deploy import COMPOSE_FILE, NGINX_CONF, ROOT

APPS = ("app1", "app2")


def compose() -> dict[str, Any]:
    document = yaml.safe_load(COMPOSE_FILE.read_text(encoding="utf-8"))
    assert isinstance(document, dict)
    return document


def test_every_mlpg_name_in_the_deployment_files_is_a_setting() -> None:
    """A misspelt variable is silently ignored by the app: check every one named."""
    fields = {f"MLPG_{name.upper()}" for name in Settings.model_fields}
    for path in (ROOT / "docs" / "deploy.md", NGINX_CONF, COMPOSE_FILE):
        named = set(re.findall(r"\bMLPG_[A-Z_]+\b", path.read_text(encoding="utf-8")))
        assert named, path
        assert named <= fields, (path.name, named - fields)


def test_services_redis_postgres_two_apps_and_nginx() -> None:
    services = compose()["services"]
    assert set(services) == {"redis", "postgres", *APPS, "nginx"}
    assert services["redis"]["image"].startswith("redis:")
    postgres = services["postgres"]
    assert postgres["image"].startswith("postgres:16")
    assert "pg_isready" in " ".join(postgres["healthcheck"]["test"])
    for name in APPS:
        app = services[name]
        assert app["build"] == "."
        assert (ROOT / "Dockerfile").is_file()
        assert app["depends_on"]["postgres"]["condition"] == "service_healthy"
        assert "ports" not in app  # only nginx is reached from outside
    assert set(services["nginx"]["depends_on"]) == set(APPS)


def test_both_replicas_share_one_redis_and_one_database() -> None:
    services = compose()["services"]
    envs = [services[name]["environment"] for name in APPS]
    assert envs[0] == envs[1]
    env = envs[0]
    assert env["MLPG_REDIS_URL"].startswith("redis://redis:")
    assert env["MLPG_DATABASE_URL"].startswith("postgresql+psycopg://")
    assert "@postgres:" in env["MLPG_DATABASE_URL"]
    assert env["MLPG_HOST"] == "0.0.0.0"
    hosts = json.loads(env["MLPG_ALLOWED_HOSTS"])
    assert "127.0.0.1" in hosts  # the image's HEALTHCHECK asks http://127.0.0.1:8000


def test_nginx_mounts_the_shipped_config_and_proxies_to_both_apps() -> None:
    nginx = compose()["services"]["nginx"]
    mounts = [v.split(":") for v in nginx["volumes"]]
    conf = [m for m in mounts if m[1] == "/etc/nginx/nginx.conf"]
    assert len(conf) == 1
    assert (ROOT / conf[0][0]).resolve() == NGINX_CONF.resolve()
    upstream = re.findall(r"^\s*server\s+(\S+):8000;", NGINX_CONF.read_text(), re.MULTILINE)
    assert upstream == list(APPS)
    published = [p.split(":")[-1] for p in nginx["ports"]]
    assert published == ["80"]
    assert re.search(r"^\s*listen 80;", NGINX_CONF.read_text(), re.MULTILINE)


def test_the_image_has_the_drivers_the_compose_file_needs() -> None:
    """The replicas use PostgreSQL (psycopg) and Redis: the image must install the
    ``postgres`` and ``redis`` extras, not only the base dependencies."""
    dockerfile = (ROOT / "Dockerfile").read_text(encoding="utf-8")
    assert "optional-dependencies" in dockerfile or "[postgres,redis]" in dockerfile, (
        "the Dockerfile installs only [project] dependencies: psycopg and redis are missing, "
        "so the compose replicas cannot reach PostgreSQL or Redis"
    )

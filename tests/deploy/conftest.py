"""Fixtures of the deployment tests: a private ``redis-server``, two real app processes
sharing it and one SQLite file, and Debian's nginx in front running deploy/nginx.conf."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.support.cluster import RedisServer
from tests.support.deploy import PROXY_NAME, Nginx, Stack
from tests.support.servers import ServerProcess, free_port


@pytest.fixture(scope="module")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    """Redis, two app processes (one server to their clients), nginx; all stopped after."""
    workdir = tmp_path_factory.mktemp("deploy")
    redis = RedisServer(free_port())
    redis.start()
    env = {
        "MLPG_REDIS_URL": redis.url,
        "MLPG_DATABASE_URL": f"sqlite:///{workdir}/db.sqlite",
        "MLPG_ALLOWED_HOSTS": f'["127.0.0.1", "{PROXY_NAME}"]',
    }
    apps: list[ServerProcess] = []
    nginx: Nginx | None = None
    try:
        for _ in range(2):
            # One after the other: the first creates the shared database's schema.
            app = ServerProcess(free_port(), env)
            apps.append(app)
            app.start()
        nginx = Nginx(free_port(), [app.port for app in apps], workdir)
        nginx.start()
        yield Stack(redis, apps, nginx)
    finally:
        if nginx is not None:
            nginx.stop()
        for app in apps:
            app.stop()
        redis.stop()

"""Settings: every limit and default, overridable by ``MLPG_*`` environment variables.

Every size a client can ask for has a cap here, so that one request or one session cannot
take the server from everybody else. ``GET /api/options`` publishes these numbers.
"""

from __future__ import annotations

import os
from typing import Annotated

from pydantic import Field, field_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict


def _cores() -> int:
    """The cores this process may run on, at least 2."""
    try:
        count = len(os.sched_getaffinity(0))
    except AttributeError:  # not on Linux
        count = os.cpu_count() or 2
    return max(2, count)


class Settings(BaseSettings):
    """Server settings. ``MLPG_MAX_SESSIONS=10 mlp-playground`` overrides one."""

    model_config = SettingsConfigDict(env_prefix="MLPG_", frozen=True)

    host: str = "127.0.0.1"
    port: int = 8000

    # REST sizes
    max_points_train: int = 20_000
    max_points_predict: int = 200_000
    max_hidden_layers: int = 10
    max_units: int = 256
    max_classes: int = 8
    min_grid_resolution: int = 16
    max_grid_resolution: int = 300
    max_steps: int = 1_000_000
    max_epochs: int = 10_000
    max_batch_size: int = 20_000
    #: Work units of one request, about 20 s on a laptop: steps x (batch + work_batch_offset)
    #: x (parameters + work_parameter_offset), plus the per-epoch evaluations. The offsets
    #: charge the fixed per-step cost of small nets (Python and NumPy call overhead).
    max_work: float = 5e9
    work_batch_offset: int = 16
    work_parameter_offset: int = 2000
    max_gradcheck_points: int = 256
    max_race_optimizers: int = 6
    #: A REST body, in bytes: the largest legal one (a 200,000-point /predict, a model
    #: document of 10 layers of 256 units) is under half of this.
    max_body_bytes: int = 32 * 1024 * 1024
    #: REST compute (/train, /race, /predict, /gradcheck, /export) one client address may
    #: have in flight, waiting ones included; over it: 429 with Retry-After.
    max_rest_jobs_per_client: int = 2
    #: REST compute requests running at once on the whole server (on their own threads:
    #: cheap routes never wait behind them). The default is the number of cores, at least 2.
    max_rest_jobs: int = Field(default_factory=_cores)
    #: Requests waiting for a free compute (or large-body) place, all clients together; a
    #: request beyond it, or one that waited ``rest_queue_seconds``, gets 503 with Retry-After.
    max_rest_queue: int = 32
    rest_queue_seconds: float = 10.0
    #: A body over this many bytes is large: parsing it takes ~28x its size in memory, so
    #: large bodies are read and parsed ``max_large_bodies_per_client`` at a time per client
    #: (over it: 429) and ``max_large_bodies`` at a time on the server (the others wait).
    large_body_bytes: int = 1024 * 1024
    max_large_bodies_per_client: int = 1
    max_large_bodies: int = 2

    # Live sessions
    max_sessions: int = 64
    #: Live sessions one client address may hold (not counting a class's students: they
    #: have ``max_students_per_client``), those in their grace period included, over every
    #: process: one client cannot fill ``max_sessions``. A school whose pages share one NAT
    #: address raises it.
    max_sessions_per_client: int = 8
    #: A class's students one client address may have, over every class (their sessions
    #: do not count in ``max_sessions_per_client``): a script joining its own class as many
    #: students cannot fill the server. A school whose students share one NAT address
    #: raises it (to its largest class, say).
    max_students_per_client: int = 8
    max_watchers: int = 200
    #: Watcher sockets one client address may hold in one process, over every session: a
    #: script with a watch link could otherwise hold ``max_watchers`` sockets on each of
    #: many sessions, every one sent each frame. A school behind one NAT address whose
    #: students all watch the teacher's session raises it.
    max_watchers_per_client: int = 32
    session_grace_seconds: float = 10.0
    idle_timeout_seconds: float = 1800.0
    max_message_bytes: int = 65_536
    max_messages_per_second: float = 100.0
    max_live_grid_resolution: int = 200
    max_fps: int = 60
    min_neuron_resolution: int = 8
    max_neuron_resolution: int = 64
    max_live_points: int = 5_000
    max_step_message: int = 1_000

    # Saved runs and session snapshots (mlp_playground.store)
    #: An SQLAlchemy URL: ``sqlite:///path/to/file.db``, ``postgresql+psycopg://...``, or
    #: ``memory://`` (nothing survives the process). Empty: an SQLite file in the user data
    #: directory (``mlp_playground.store.default_database_path``). Never published.
    database_url: str = ""
    #: One saved run's canonical JSON, in bytes: a 5,000-point run with an 8-8 net and 50
    #: epochs of history is ~220 KB (~110 KB stored, zlib), so this leaves room for nets
    #: of ~350,000 weights, while 10,000 runs all at the cap would still fit in ~40 GB.
    max_run_bytes: int = 8 * 1024 * 1024
    max_runs_per_minute: int = 30
    max_runs_total: int = 10_000
    max_run_title_chars: int = 200

    # Durable live sessions (mlp_playground.live.durable)
    #: A training session's snapshot is written at least this often (seconds); pausing,
    #: the owner leaving and shutdown write one at once. Snapshots nobody resumes are
    #: forgotten after ``idle_timeout_seconds``.
    snapshot_interval_seconds: float = 5.0
    #: One session's snapshot, in bytes: the largest legal session (10 layers of 256 units
    #: with Adam's two moments, 5,000 points) takes about 16 MB. A snapshot over it is not
    #: written, and the session's older one is dropped: it would resume a state long gone.
    max_snapshot_bytes: int = 20 * 1024 * 1024
    #: The snapshots of one client address's sessions together, students' included. To
    #: fit a new one, that client's own ownerless snapshots go first, oldest first; one
    #: whose owner is connected is never displaced. A school behind one NAT raises it.
    max_snapshot_bytes_per_client: int = 48 * 1024 * 1024
    #: Every snapshot together: over it, ownerless snapshots go, oldest first.
    max_snapshot_bytes_total: int = 1024 * 1024 * 1024

    # The classroom (mlp_playground.classroom, docs/design.md, "The classroom"). ``max_classrooms``
    # because ``max_classes`` is already the number of output classes of a network.
    max_students_per_class: int = 200
    max_classrooms: int = 50
    #: Open classes one client address may hold: a school behind one NAT address that runs
    #: more classes at once raises it. Ended, expired and reclaimed classes do not count.
    max_classrooms_per_client: int = 5
    class_lifetime_seconds: float = 8 * 3600.0
    #: A class whose teacher page never connects within this is reclaimed (seconds).
    class_claim_seconds: float = 15 * 60.0
    #: Unknown class codes (and wrong teacher tokens) one client may try in a minute, on
    #: /c/, /ws?class= and /ws/class/; over it, every look-up is refused until the minute
    #: has passed. Generous for a class of typos behind one NAT address.
    max_unknown_codes_per_minute: int = 30

    # CORS: closed unless origins are listed.
    cors_origins: list[str] = []
    #: Host names the server answers to (the ``Host`` header, port aside); empty: any.
    #: ``mlp-playground`` bound to loopback defaults to the loopback names, so a web page
    #: whose name was rebound to 127.0.0.1 (DNS rebinding) cannot reach it.
    allowed_hosts: list[str] = []
    #: The base URL others should use for share and join links (a reverse proxy's name, say);
    #: empty: derived from the bind address (``mlp_playground.public.public_url``).
    public_url: str = ""
    #: Proxies whose ``X-Forwarded-For`` is believed (addresses or CIDRs; in the environment
    #: comma-separated, ``MLPG_TRUSTED_PROXIES=10.0.0.5,172.28.0.0/24``). Empty: none, so the
    #: client is the connection's peer (``mlp_playground.client_address``).
    trusted_proxies: Annotated[list[str], NoDecode] = []

    # Several processes and hosts (docs/deploy.md)
    #: ``redis://127.0.0.1:6379/0``: processes sharing it (and one database) are one server.
    #: Empty: one process, everything in memory.
    redis_url: str = ""
    #: The prefix of every Redis key and channel: deployments sharing one Redis keep apart.
    redis_prefix: str = "mlpg"

    @field_validator("trusted_proxies", mode="before")
    @classmethod
    def _proxy_list(cls, value: object) -> object:
        """``"10.0.0.5, 172.28.0.0/24"`` -> two entries; each must be an address or CIDR."""
        from ipaddress import ip_network

        if isinstance(value, str):
            value = [part.strip() for part in value.split(",") if part.strip()]
        if isinstance(value, list):
            for entry in value:
                ip_network(str(entry), strict=False)  # ValueError: Settings names the field
        return value

    def limits(self) -> dict[str, float | int]:
        """The caps a client needs to know, as published in ``/api/options`` and ``hello``."""
        return self.model_dump(exclude=set(NOT_LIMITS))


#: Settings that are addresses or secrets, not caps: never published.
NOT_LIMITS = (
    "host",
    "port",
    "cors_origins",
    "allowed_hosts",
    "public_url",
    "trusted_proxies",
    "database_url",
    "redis_url",
    "redis_prefix",
)

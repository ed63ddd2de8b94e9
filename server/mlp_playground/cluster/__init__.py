"""Several server processes as one server, through Redis (docs/design.md, "Several processes").

``Cluster`` (cluster.py) is the one object the live layer uses; the modules beside it are
its parts: leases.py (caps across processes), directory.py (session -> process, watch
token -> session), publisher.py and fanout.py (each frame published once, one pub/sub
connection per process fanned out to local sinks), models.py (the model document for
``/predict`` elsewhere), wire.py (the channel message layout), errors.py
(``ClusterUnavailable``). Import each name from the module that defines it: this file
imports nothing, so importing one part loads only what that part needs. The single-process
server never imports this package: Redis is an optional dependency (``redis>=5``), needed
only with ``MLPG_REDIS_URL``.
"""

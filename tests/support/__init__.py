"""What several test suites share: servers and clients to drive them, the websocket and
Redis helpers, the fuzzer and load generator (bench/ runs their long forms), and the
subprocess entry points some tests start (``python -m tests.support.<name>``).

Fixtures stay in conftest.py files; this package holds plain code, imported as
``from tests.support.<module> import ...`` (pytest puts the repository root on sys.path).
"""

"""The app assembles and serves health and the page."""


def test_healthz(client):
    assert client.get("/healthz").json() == {"status": "ok"}


def test_index_served(client):
    r = client.get("/")
    assert r.status_code == 200
    assert "MLP Playground" in r.text


def test_cli_starts_a_real_server(live_server):
    import httpx

    assert httpx.get(live_server.url + "/healthz").status_code == 200

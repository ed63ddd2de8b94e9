"""POST /classes, the student page /c/{code}, and the caps in /api/options."""

from __future__ import annotations

import time

from mlp_playground.classroom.names import ALPHABET, CODE_LENGTH


def test_post_classes_answers_a_code_a_token_and_the_join_url(client):
    r = client.post("/classes")
    assert r.status_code == 201
    body = r.json()
    code = body["code"]
    assert len(code) == CODE_LENGTH and set(code) <= set(ALPHABET)
    assert not set(code) & set("0O1I")
    assert body["join_url"] == f"/c/{code}"
    assert len(body["teacher_token"]) >= 32
    assert body["public_join_url"] is None  # a loopback server has no LAN address
    assert 0 < body["expires_in"] <= 8 * 3600
    assert client.post("/classes", json={}).status_code == 201
    titled = client.post("/classes", json={"title": "  Lab 3  "})
    assert titled.status_code == 201


def test_codes_and_tokens_differ_between_classes(make_client):
    client = make_client(max_classrooms_per_client=20)
    made = [client.post("/classes").json() for _ in range(20)]
    assert len({m["code"] for m in made}) == 20
    assert len({m["teacher_token"] for m in made}) == 20


def test_a_bad_body_is_a_422_naming_the_field(client):
    unknown = client.post("/classes", json={"students": 3})
    assert unknown.status_code == 422 and unknown.json()["detail"][0]["field"] == "students"
    long = client.post("/classes", json={"title": "x" * 101})
    assert long.status_code == 422 and long.json()["detail"][0]["field"] == "title"
    control = client.post("/classes", json={"title": "a\nb"})
    assert control.status_code == 422 and control.json()["detail"][0]["field"] == "title"
    not_json = client.post("/classes", content=b"{", headers={"content-type": "application/json"})
    assert not_json.status_code == 422


def test_the_class_cap_is_a_507_with_a_sentence(make_client):
    c = make_client(max_classrooms=2)
    assert [c.post("/classes").status_code for _ in range(2)] == [201, 201]
    full = c.post("/classes")
    assert full.status_code == 507 and "max_classrooms" in full.json()["detail"]


def test_ended_classes_free_their_place_and_their_page(make_client):
    c = make_client(max_classrooms=1, class_lifetime_seconds=1.5)  # room for a loaded machine
    code = c.post("/classes").json()["code"]
    assert c.get(f"/c/{code}").status_code == 200
    assert c.post("/classes").status_code == 507
    time.sleep(1.6)
    page = c.get(f"/c/{code}")
    assert page.status_code == 404 and "no open class" in page.text
    assert c.post("/classes").status_code == 201


def test_the_student_page_is_the_page_for_a_known_code_in_any_case(client, klass):
    page = client.get(klass["join_url"])
    assert page.status_code == 200 and page.headers["content-type"].startswith("text/html")
    assert page.text == client.get("/").text
    assert client.get(f"/c/{klass['code'].lower()}").status_code == 200


def test_an_unknown_code_is_an_html_page_with_a_way_back(client):
    page = client.get("/c/ZZZZZZ")
    assert page.status_code == 404
    assert page.headers["content-type"].startswith("text/html")
    assert "no open class" in page.text and 'href="/"' in page.text


def test_the_caps_are_published_in_api_options(make_client):
    limits = make_client(max_students_per_class=30).get("/api/options").json()["limits"]
    assert limits["max_students_per_class"] == 30
    assert limits["max_classrooms"] == 50
    assert limits["class_lifetime_seconds"] == 8 * 3600
    assert limits["max_classes"] == 8  # the network's classes: a different cap

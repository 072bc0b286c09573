"""/healthz: what an operator's monitor polls."""

import pytest


@pytest.mark.django_db
def test_healthz_reports_database_cache_storage_and_broker(client):
    response = client.get("/healthz", HTTP_ACCEPT="application/json")
    assert response.status_code == 200, response.content
    checks = response.json()
    names = " ".join(checks)
    for part in ("Database", "Cache", "Storage", "Broker"):
        assert part in names
    assert all(value == "OK" for value in checks.values())


@pytest.mark.django_db
def test_healthz_fails_when_the_broker_cannot_be_reached(client, settings):
    from imr.celery import app

    original = app.conf.broker_url
    app.conf.broker_url = "redis://127.0.0.1:1/0"  # nothing listens on port 1
    try:
        response = client.get("/healthz", HTTP_ACCEPT="application/json")
    finally:
        app.conf.broker_url = original
    assert response.status_code == 500
    assert "Broker unreachable" in str(response.json())


@pytest.mark.django_db
def test_a_plain_get_of_healthz_answers_200_with_a_page(client):
    response = client.get("/healthz")  # what curl, a browser or a load balancer sends
    assert response.status_code == 200
    assert b"Broker" in response.content

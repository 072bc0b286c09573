"""Health check of the Celery broker, for /healthz."""

import dataclasses

from health_check.base import HealthCheck
from health_check.exceptions import ServiceUnavailable

from imr.celery import app


@dataclasses.dataclass
class Broker(HealthCheck):
    """Open a connection to the Celery broker (Redis, or the file-system transport)."""

    def run(self):
        try:
            with app.connection_for_write() as connection:
                connection.ensure_connection(max_retries=1, timeout=2)
        except Exception as e:  # any failure to connect means tasks cannot be queued
            raise ServiceUnavailable(f"Broker unreachable: {type(e).__name__}") from e

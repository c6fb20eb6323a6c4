"""Apache Airflow provider for HubSpot's Scheduler (meetings) API."""

from __future__ import annotations

__version__ = "0.1.0"
DISTRIBUTION_NAME = "airflow-provider-hubspot-scheduler"

"""Apache Airflow provider for HubSpot's Scheduler (meetings) API."""

from __future__ import annotations

#: The release version, written here only: the distribution's metadata (pyproject ``dynamic``) and
#: ``get_provider_info()["versions"]`` read it.
__version__ = "0.1.0"
DISTRIBUTION_NAME = "airflow-provider-hubspot-scheduler"

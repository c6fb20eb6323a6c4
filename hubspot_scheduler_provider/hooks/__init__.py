"""Hooks of the HubSpot Scheduler provider (``HubSpotSchedulerHook`` lives in ``hooks.scheduler``)."""

from __future__ import annotations

"""Sensors of the HubSpot Scheduler provider (``MeetingSlotAvailableSensor``: ``sensors.slot_available``)."""

from __future__ import annotations

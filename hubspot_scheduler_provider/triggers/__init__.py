"""Triggers of the HubSpot Scheduler provider (``MeetingSlotAvailableTrigger``: ``.slot_available``)."""

from __future__ import annotations

"""Operators of the HubSpot Scheduler provider (``BookMeetingOperator``: ``operators.book_meeting``)."""

from __future__ import annotations

"""Availability-aware scheduling: slot finding, next-available booking, the slot sensor and trigger."""

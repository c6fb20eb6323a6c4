"""Reacting to bookings: asset events of the booking operators, the new-bookings trigger and sensor."""

"""``BookMeetingOperator``: booking input (payload merge, parsers, bad input named before any request),
bookings run with ``dag.test()``, ``next_available`` slot choice, and the extra links' HubSpot domain.
"""

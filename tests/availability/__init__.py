"""Availability-aware scheduling against the sandbox: slot finding across month pages and time zones,
``start_time="next_available"`` booking, ``MeetingSlotAvailableSensor`` (poke and deferrable) and its
trigger, ``ListMeetingLinksOperator``, ``CreateCalendarMeetingOperator``, the operators' shared hook
handling, and the availability example DAGs.
"""

"""``HubSpotSchedulerHook`` on the wire: connection parsing and the test button, one method per endpoint,
HubSpot's error bodies mapped to the error hierarchy, OAuth refresh, retries and the shared session.
"""

"""What must hold when things go wrong: exactly-once booking under dropped connections, timeouts, 5xx,
retries and clears (the fault suite), malformed HubSpot answers, rate limits and CRM search pacing,
calendar-meeting retries, and secrets never in logs, XCom, rendered fields or exception text.
"""

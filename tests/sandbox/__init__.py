"""The HubSpot sandbox (``hubspot_scheduler_provider.testing``) itself: conformance to HubSpot's OpenAPI
specs, availability maths, faults, rate limits, OAuth and CRM endpoints, and its CLI and pytest plugin.
"""

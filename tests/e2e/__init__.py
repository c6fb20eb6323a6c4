"""The deployment tiers (markers ``e2e`` and ``browser``): a real Airflow 3 (api-server, scheduler,
dag-processor, triggerer on loopback) driven over REST API v2, the deferrable sensor in a real triggerer,
and the UI (trigger form, connection form, extra links) in headless Chromium, whose screenshots land in
``test-artifacts/``.
"""

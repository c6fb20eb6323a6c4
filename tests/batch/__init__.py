"""Bulk booking with ``BookMeetingsOperator``: the shared-session batch engine, client-side pacing to the
account's rate limit (``pacing.py``), progress logging, and batches run under ``dag.test()``.
"""

"""Managing booked meetings (issue 16): the CRM meeting hook methods, ``SetMeetingOutcomeOperator``
and ``ExportMeetingsOperator`` against the sandbox, in real DAG runs (``dag.test()``)."""

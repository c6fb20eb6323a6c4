"""Benchmarks of the provider against the HubSpot sandbox on loopback: ``python -m benchmarks``.

Each benchmark runs in its own interpreter (``python -m benchmarks.<name>``) and measures both sides of
its comparison in the same run against the same sandbox settings, so the ratios hold on a noisy machine
where absolute times do not. The sandbox runs in a separate process (``benchmarks.sandbox_process``),
so its CPU and memory are not the client's. ``python -m benchmarks`` runs them all, prints a table and
writes ``benchmarks/results.json``.
"""

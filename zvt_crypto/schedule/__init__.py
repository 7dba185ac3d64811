"""Scheduled recording and factor jobs: a long-running, restart-safe daemon with job history and health.

Modules, one job each: ``config`` (``[schedule]`` and ``[[jobs]]``, validated up front), ``triggers`` (UTC bar
grid + delay, crontab), ``steps`` (after-steps registry, ``factor`` built in), ``universe`` (top-N by volume at
run time), ``runner`` (one run: record, steps, history), ``history`` (``job_run`` rows), ``lock`` (one scheduler
per store), ``daemon`` (APScheduler, signals, catch-up), ``status`` (health and lag), ``alerts`` (signed
webhook), ``logs`` (rotating text / JSON-lines file with run ids). Importing this package starts nothing.
"""

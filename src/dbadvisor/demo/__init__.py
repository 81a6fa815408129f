"""The embedded default: a private PostgreSQL with a realistic chat-bot platform database, a workload,
and the full analysis, end to end."""

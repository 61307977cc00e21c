"""Logs, metrics and tracing for every request (README "Operations: monitoring").

Nothing here imports Powertools, prometheus-client or the X-Ray SDK at module import:
``build_observability`` loads what the settings ask for when the app is built.
"""

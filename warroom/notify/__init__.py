"""Outbound notifications: Apprise delivery with timeouts, run by the worker from the outbox."""

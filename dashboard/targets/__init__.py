"""Connecting to target databases: URL validation, masking, timeouts, cold-start retries.

Nothing here imports Django models; callers pass plain connection URLs.
"""

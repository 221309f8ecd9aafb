"""Neon API client and the sync of branches and computes into models."""

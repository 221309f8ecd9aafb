"""Migration history of other tools in the dashboard: stored reads, one timeline, drift, branch comparison.

The readers engine (migrations_app/readers/, no Django) reads the tables; this package stores
each read (store.py), builds the timeline page's context (services.py), turns the newest read's
failed or dirty migrations into a health check (health.py) and loads the demo's tables (demo.py).
"""

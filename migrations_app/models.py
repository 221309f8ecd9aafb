"""Migration requests, lint results, approvals and runs (not built yet: see the open issues)."""

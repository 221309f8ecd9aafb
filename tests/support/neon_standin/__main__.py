"""`python -m tests.support.neon_standin --port ...` (scripts/run.sh starts the demo's stand-in this way)."""

from .server import main

main()

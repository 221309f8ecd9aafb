"""Django-side services of reviewed migrations: they call the engine and store what it says."""

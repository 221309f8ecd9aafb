"""The demo `make run` loads: team `demo`, three users, and the Pagila database registered as project `pagila`."""

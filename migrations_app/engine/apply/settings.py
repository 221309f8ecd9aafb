"""How an apply behaves: timeouts, lock-timeout retries, how long it waits for others."""

from dataclasses import dataclass


@dataclass(frozen=True)
class ApplySettings:
    lock_timeout_ms: int = 2000
    statement_timeout_ms: int = 600_000
    max_lock_retries: int = 5  # retries after the first attempt
    retry_base_seconds: float = 0.5
    retry_max_seconds: float = 30.0
    apply_lock_wait_seconds: float = 300.0
    preflight_wait_seconds: float = 30.0
    long_transaction_seconds: float = 60.0
    stop_on_blockers: bool = True  # False: report blockers and go ahead (lock_timeout still protects)
    poll_seconds: float = 0.25
    applied_by: str = ""  # recorded in neon_ops.migrations

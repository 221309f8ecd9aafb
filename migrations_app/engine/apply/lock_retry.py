"""Lock-timeout retry: a step whose statement did not get its lock within lock_timeout (55P03) is run
again, whole, after an exponential backoff with jitter (so no lock is held while waiting and
competing appliers do not retry in step); after max_lock_retries the apply fails naming the holders."""

import random

import psycopg

from ..plan import Step
from .outcome import FAILED
from .preflight import lock_holders
from .progress import LOCK_RETRY
from .run_context import RunContext, Stop
from .settings import ApplySettings


def backoff_seconds(settings: ApplySettings, attempt: int) -> float:
    """The wait after failed attempt `attempt` (1-based): doubling, capped, then 0.5-1.5 times that."""
    delay = min(settings.retry_max_seconds, settings.retry_base_seconds * 2 ** (attempt - 1))
    return delay * (0.5 + random.random())


def wait_before_retry(run: RunContext, exc: psycopg.Error, step: Step, attempt: int) -> None:
    """Sleep before the next attempt, or stop the apply when the retries are used up."""
    statement = run.state.current or step.statements[0]
    holders = lock_holders(run, statement)
    if attempt > run.cfg.max_lock_retries:
        error = run.error_from(
            exc,
            message=(
                f"could not get its lock within {run.cfg.lock_timeout_ms} ms in {attempt} attempts "
                f"({exc.diag.message_primary or exc}). {holders}"
            ).strip(),
        )
        raise Stop(FAILED, error.describe() + run.applied_suffix(), error=error) from None
    delay = backoff_seconds(run.cfg, attempt)
    run.progress(
        LOCK_RETRY,
        f"Statement {statement.number} did not get its lock within {run.cfg.lock_timeout_ms} ms; "
        f"retry {attempt} of {run.cfg.max_lock_retries} in {delay:.1f} s. {holders}".strip(),
        step=step.number,
        statement_index=statement.index,
        attempt=attempt,
        delay_seconds=delay,
    )
    run.sleep(delay)

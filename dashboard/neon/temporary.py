"""A temporary Neon branch for one job: created with a compute of its own, deleted however the job ends.

The branch is a copy of its parent at creation time; the parent's compute is never
touched, so an idle one stays idle. `on_created` records the new branch's id as soon as
Neon answers (before waiting), so a job whose worker dies can still have it deleted later
(by name too: give each job's branch a name only that job uses).
"""

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass

from django.conf import settings

from dashboard.neon.client import NeonAPIError, NeonClient


@dataclass
class TemporaryBranch:
    branch_id: str
    name: str
    endpoint_id: str = ""
    deleted: bool = False
    # Why deleting it failed ("" when it was deleted, or when the block has not ended yet).
    cleanup_error: str = ""


@contextmanager
def temporary_branch(
    client: NeonClient,
    neon_project_id: str,
    *,
    parent_id: str,
    name: str,
    on_created: Callable[[TemporaryBranch], None] | None = None,
) -> Iterator[TemporaryBranch]:
    """Create a branch of `parent_id` named `name`, wait until it and its compute are ready, yield it,
    and delete it when the block ends (success, error, soft time limit).

    A failed deletion does not hide the block's own outcome: it is left in `cleanup_error`.
    """
    answer = client.create_branch(neon_project_id, parent_id=parent_id, name=name)
    endpoints = answer.get("endpoints") or []
    branch = TemporaryBranch(
        branch_id=answer["branch"]["id"],
        name=name,
        endpoint_id=str(endpoints[0].get("id") or "") if endpoints else "",
    )
    try:
        if on_created is not None:
            on_created(branch)
        client.wait_for_operations(
            neon_project_id, answer.get("operations") or [], timeout=settings.NEON_OPERATION_TIMEOUT
        )
        yield branch
    finally:
        branch.cleanup_error = delete_branch(client, neon_project_id, branch.branch_id)
        branch.deleted = not branch.cleanup_error


def delete_branch(client: NeonClient, neon_project_id: str, branch_id: str, *, wait: bool = True) -> str:
    """Delete the branch (and, with `wait`, wait for Neon's operations): "" once Neon has it deleted or
    accepted the deletion (already gone counts), otherwise Neon's message saying why not."""
    try:
        answer = client.delete_branch(neon_project_id, branch_id)
        if wait:
            client.wait_for_operations(
                neon_project_id, answer.get("operations") or [], timeout=settings.NEON_OPERATION_TIMEOUT
            )
    except NeonAPIError as exc:
        return "" if exc.is_not_found else exc.message
    return ""


def branch_named(client: NeonClient, neon_project_id: str, name: str) -> str:
    """The id of the project's branch called `name`, or "" (a job that died before it saw the id)."""
    for branch in client.list_branches(neon_project_id):
        if branch.get("name") == name:
            return str(branch.get("id") or "")
    return ""

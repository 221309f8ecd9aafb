"""What other areas need to know about a project's Neon branches and computes.

This is the contract between the Neon area and the rest: background jobs call
`compute_is_idle` before connecting, and pages let people pick a branch from
`branches_for`. For non-Neon projects there are no branches and no idle state.
"""


def compute_is_idle(project, branch=None) -> bool:
    """True when Neon last reported the compute of `branch` (default branch if None) as idle.

    Background jobs must then skip the project so they never wake a suspended compute.
    """
    return False


def branches_for(project) -> list:
    """The project's known branches (Branch records), default branch first; [] for non-Neon projects."""
    return []

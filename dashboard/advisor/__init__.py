"""Schema advisor: rules that check a captured catalog against our schema-design standards.

Each rule is a small function taking a Catalog and returning Findings; see rules.py.
No Django here: rules run on dataclasses from dashboard.introspection.
"""

from .rules import RULES, Finding, run_rules  # noqa: F401

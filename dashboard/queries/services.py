"""Services of the queries area that talk to the target: EXPLAIN of a stored statement."""

from django.conf import settings

from dashboard.connections import open_target
from dashboard.introspection.explain import ExplainRefused, explain, inspect_statement
from dashboard.models import QueryText
from dashboard.targets.connect import TargetError

EXPLAIN_MODES = ("plain", "generic", "analyze")
MAX_PARAM_LENGTH = 10_000
IDLE_MESSAGE = "Neon reports the compute idle; EXPLAIN would wake it. Wake the compute first."
# A plan (or a parse error) would show the literals viewers do not see.
HIDDEN_LITERALS_MESSAGE = "This text holds literals that are hidden from viewers; an engineer can explain it."
PRODUCTION_CONFIRM_MESSAGE = (
    "On this Neon project EXPLAIN ANALYZE runs on a temporary branch by default. To run the statement on "
    "the production branch itself, tick “on the production branch itself” and press it again."
)


def explain_for_page(
    project,
    query_text: QueryText,
    mode: str,
    form,
    *,
    compute_idle: bool,
    hide_literals: bool = False,
    production_confirmed: bool = True,
) -> tuple[str, str]:
    """(plan, "") or ("", the message saying why there is no plan); `form` holds param1..paramN.

    `production_confirmed`: False refuses ANALYZE (the person did not confirm running it on production).
    """
    if hide_literals and query_text.has_hidden_literals:
        return "", HIDDEN_LITERALS_MESSAGE
    try:
        info = inspect_statement(query_text.text, settings.QUERIES_PARSE_MAX_CHARS)
        params = [] if mode == "generic" else explain_params(form, info.param_count)
        if compute_idle:
            return "", IDLE_MESSAGE
        if mode == "analyze" and not production_confirmed:
            return "", PRODUCTION_CONFIRM_MESSAGE
        return run_explain(project, query_text, mode=mode, params=params), ""
    except (ExplainRefused, TargetError) as exc:
        return "", exc.message


def explain_params(form, count: int) -> list[str]:
    # A field left out of the form is missing (explain() then refuses); an empty one is an empty string.
    values = [form[f"param{i}"] for i in range(1, count + 1) if f"param{i}" in form]
    if any(len(v) > MAX_PARAM_LENGTH for v in values):
        raise ExplainRefused("A parameter value is too long.")
    return values


def run_explain(project, query_text: QueryText, *, mode: str, params: list[str]) -> str:
    """Connect with the project's read settings and explain; raises ExplainRefused/TargetError."""
    timeout = (
        settings.QUERIES_EXPLAIN_ANALYZE_TIMEOUT_MS
        if mode == "analyze"
        else settings.TARGET_STATEMENT_TIMEOUT_MS
    )
    # A person waits for the plan. ANALYZE runs the statement: on the direct connection, never through
    # a pooler (whose transaction mode could hand the session to another client mid-statement).
    with open_target(project, interactive=True, direct=mode == "analyze") as target:
        if mode == "generic" and target.conn.info.server_version < 160000:
            raise ExplainRefused("Generic plans need Postgres 16 or later; enter parameter values instead.")
        return explain(
            target.conn,
            query_text.text,
            params,
            generic=mode == "generic",
            analyze=mode == "analyze",
            timeout_ms=timeout,
            cfg=target.cfg,
        )

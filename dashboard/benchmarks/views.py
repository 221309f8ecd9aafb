"""Benchmark pages: runs, the start form, one run (live progress, then results and charts), compare.

Views only parse, check access and call services; runs happen on a worker. The run page
polls itself (htmx) while the run is queued or running, and stops (286) once it ended.
"""

from types import SimpleNamespace

from django.conf import settings
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.paginator import Paginator
from django.http import Http404
from django.shortcuts import redirect, render
from django.urls import reverse
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from dashboard.benchmarks import charts, isolation, series, services
from dashboard.benchmarks.engine import decode
from dashboard.benchmarks.forms import BenchmarkForm, SeriesForm
from dashboard.benchmarks.models import BenchmarkRun, BenchmarkSeries
from dashboard.common.access import get_project_for_user
from dashboard.common.htmx import render_page, task_partial, wants_partial
from dashboard.models import Role
from dashboard.neon.state import branches_for


def _benchmark_or_404(project, benchmark_id) -> BenchmarkRun:
    try:
        pk = int(benchmark_id)
    except (TypeError, ValueError):
        raise Http404("No such benchmark") from None
    benchmark = (
        BenchmarkRun.objects.filter(project=project, pk=pk).select_related("created_by", "series").first()
    )
    if benchmark is None:
        raise Http404("No such benchmark")
    return benchmark


@login_required
@require_GET
def benchmark_list(request, slug):
    project, membership = get_project_for_user(request, slug)
    runs = BenchmarkRun.objects.filter(project=project).select_related("created_by")
    page = Paginator(runs, settings.BENCHMARK_RUNS_PER_PAGE).get_page(request.GET.get("page"))
    series_list = BenchmarkSeries.objects.filter(project=project).select_related("created_by")[:10]
    context = {"project": project, "page": page, "runs": page.object_list, "series_list": series_list,
               "can_run": membership.has_role(Role.ENGINEER)}  # fmt: skip
    return render(request, "benchmarks/list.html", context)


@login_required
@require_http_methods(["GET", "POST"])
def benchmark_new(request, slug):
    project, membership = get_project_for_user(request, slug, Role.ENGINEER, action="benchmark.start")
    form = BenchmarkForm(
        request.POST if request.method == "POST" else None,
        project=project,
        branches=branches_for(project),
        is_admin=membership.has_role(Role.ADMIN),
    )
    if request.method == "POST" and form.is_valid():
        branch, options = form.chosen_branch(), form.run_options()
        try:
            services.refuse_unsafe_start(project, options, branch)
            benchmark = services.start_benchmark(project, request.user, options, branch)
        except services.BenchmarkRefused as exc:
            form.add_error(None, exc.message)
        else:
            messages.info(request, f"Benchmark #{benchmark.pk} is queued; progress is shown below.")
            return redirect("benchmark_detail", slug=project.slug, benchmark_id=benchmark.pk)
    context = {"project": project, "form": form, "is_admin": membership.has_role(Role.ADMIN),
               "max_clients": settings.BENCHMARK_MAX_CLIENTS,
               "max_duration": settings.BENCHMARK_MAX_DURATION_SECONDS}  # fmt: skip
    return render(request, "benchmarks/new.html", context, status=400 if request.method == "POST" else 200)


def _run_charts(benchmark: BenchmarkRun, result) -> list:
    """Histogram (when finished), tps and p99 over time: from the result, or live from the progress."""
    points = [p for p in (result.timeline if result else []) if not p.warmup]
    if result:
        timeline = [(p.second, p.tps, p.p99_ms) for p in points]
    else:
        timeline = [(p["second"], p["tps"], p["p99_ms"]) for p in benchmark.progress if not p.get("warmup")]
    label = f"#{benchmark.pk}"
    found = [
        charts.timeline_chart("Transactions per second", "tps", [(label, [(s, t) for s, t, _ in timeline])]),
        charts.timeline_chart("p99 latency per second", "ms", [(label, [(s, p) for s, _, p in timeline])]),
    ]
    if result and result.latency_histogram:
        found.insert(0, charts.latency_histogram([(label, decode(result.latency_histogram))]))
    return found


def _detail_context(project, membership, benchmark: BenchmarkRun) -> dict:
    result = services.run_result(benchmark)
    can_run = membership.has_role(Role.ENGINEER)
    branch = isolation.chosen_branch(benchmark) if project.is_neon else None
    return {
        "project": project,
        "benchmark": benchmark,
        "result": result,
        "cold": services.cold_start_result(benchmark),
        "charts": [c for c in _run_charts(benchmark, result) if not c.empty],
        "errors": sorted((result.errors_by_sqlstate if result else {}).items()),
        "can_run": can_run,
        "can_compare_parent": bool(isolation.parent_branch(project, branch)),
        "counterparts": benchmark.counterparts.order_by("-created_at"),
        "max_repetitions": settings.BENCHMARK_MAX_SERIES_REPETITIONS,
        "scripts": _script_shares(result),
    }


def _script_shares(result) -> list[dict]:
    """Each script's weight and transactions (the engine counts them per script), with its share."""
    scripts = result.scripts if result else []
    total = sum(s["transactions"] for s in scripts) or 1
    return [{**s, "share": 100 * s["transactions"] / total} for s in scripts]


@login_required
@require_GET
def benchmark_detail(request, slug, benchmark_id):
    project, membership = get_project_for_user(request, slug)
    benchmark = _benchmark_or_404(project, benchmark_id)
    context = _detail_context(project, membership, benchmark)
    if wants_partial(request):
        return task_partial(request, "benchmarks/_run.html", context, benchmark)
    return render(request, "benchmarks/detail.html", context)


@login_required
@require_POST
def benchmark_cancel(request, slug, benchmark_id):
    project, _ = get_project_for_user(request, slug, Role.ENGINEER, action="benchmark.cancel")
    benchmark = _benchmark_or_404(project, benchmark_id)
    messages.info(request, services.request_cancel(benchmark, request.user))
    return redirect("benchmark_detail", slug=project.slug, benchmark_id=benchmark.pk)


@login_required
@require_POST
def benchmark_counterpart(request, slug, benchmark_id):
    """Start the same run pooled-vs-direct or on the parent branch; its page links to the comparison."""
    project, membership = get_project_for_user(request, slug, Role.ENGINEER, action="benchmark.start")
    benchmark = _benchmark_or_404(project, benchmark_id)
    kind = request.POST.get("kind", "")
    if kind not in services.COUNTERPARTS:
        messages.error(request, "Choose pooled vs direct or the parent branch.")
        return redirect("benchmark_detail", slug=project.slug, benchmark_id=benchmark.pk)
    try:
        options, branch = services.counterpart_options(
            benchmark, kind, is_admin=membership.has_role(Role.ADMIN)
        )
        services.refuse_unsafe_start(project, options, branch)
        counterpart = services.start_benchmark(
            project, request.user, options, branch, counterpart_of=benchmark
        )
    except services.BenchmarkRefused as exc:
        messages.error(request, exc.message)
        return redirect("benchmark_detail", slug=project.slug, benchmark_id=benchmark.pk)
    messages.info(
        request, f"Benchmark #{counterpart.pk} is queued; its comparison with #{benchmark.pk} appears here."
    )
    return _compare_redirect(project, benchmark, counterpart)


def _compare_redirect(project, a: BenchmarkRun, b: BenchmarkRun):
    return redirect(f"{reverse('benchmark_compare', args=[project.slug])}?a={a.pk}&b={b.pk}")


METRIC_LABELS = {"tps": "tps", "p50": "p50 latency (ms)", "p99": "p99 latency (ms)"}


def _percent(value: float) -> str:
    return f"{value * 100:+.1f} %"


def _verdict_rows(comparisons) -> list[dict]:
    return [
        {
            "metric": c.metric,
            "label": METRIC_LABELS[c.metric],
            "a": c.baseline_mean,
            "b": c.candidate_mean,
            "change": _percent(c.change),
            "interval": f"{_percent(c.ci_low)} to {_percent(c.ci_high)}",
            "verdict": c.verdict,
        }
        for c in comparisons
    ]


def _compare_charts(a: BenchmarkRun, b: BenchmarkRun, first, second) -> list:
    runs = [(f"#{a.pk}", first), (f"#{b.pk}", second)]
    measured = [(label, [p for p in r.timeline if not p.warmup]) for label, r in runs]
    return [
        charts.latency_histogram([(label, decode(r.latency_histogram)) for label, r in runs]),
        charts.timeline_chart("Transactions per second", "tps", [(lb, [(p.second, p.tps) for p in ps]) for lb, ps in measured]),
        charts.timeline_chart("p99 latency per second", "ms", [(lb, [(p.second, p.p99_ms) for p in ps]) for lb, ps in measured]),
    ]  # fmt: skip


@login_required
@require_GET
def benchmark_compare(request, slug):
    project, membership = get_project_for_user(request, slug)
    finished = BenchmarkRun.objects.filter(project=project, status="finished").exclude(workload="cold-start")
    context = {"project": project, "choices": finished[:100], "a": None, "b": None, "comparisons": [],
               "problem": "", "charts": [], "can_run": membership.has_role(Role.ENGINEER),
               "max_repetitions": settings.BENCHMARK_MAX_SERIES_REPETITIONS,
               "threshold_percent": round(settings.BENCHMARK_SIGNIFICANCE_THRESHOLD * 100, 1)}  # fmt: skip
    if request.GET.get("a") and request.GET.get("b"):
        a = _benchmark_or_404(project, request.GET["a"])
        b = _benchmark_or_404(project, request.GET["b"])
        context.update(a=a, b=b)
        if a.is_finished and b.is_finished:
            comparisons, problem = services.compare(a, b)
            context.update(comparisons=_verdict_rows(comparisons), problem=problem)
            if comparisons:
                context["charts"] = _compare_charts(a, b, services.run_result(a), services.run_result(b))
        waiting = [run for run in {a.pk: a, b.pk: b}.values() if not run.is_finished]
        context["pair"] = SimpleNamespace(is_finished=not waiting, waiting=waiting)
        if wants_partial(request):
            return task_partial(request, "benchmarks/_compare.html", context, context["pair"])
    return render_page(request, "benchmarks/compare.html", "benchmarks/_compare.html", context)


# --- series: A, B, A, B ... ------------------------------------------------------------------


def _series_or_404(project, series_id) -> BenchmarkSeries:
    found = BenchmarkSeries.objects.filter(project=project, pk=series_id).select_related("created_by").first()
    if found is None:
        raise Http404("No such benchmark series")
    return found


@login_required
@require_POST
def benchmark_series_new(request, slug):
    """Repeat run `a` as N interleaved repetitions A, B, A, B ...; B changed by `kind`, or run `b`."""
    project, membership = get_project_for_user(request, slug, Role.ENGINEER, action="benchmark.series_start")
    a = _benchmark_or_404(project, request.POST.get("a"))
    b = _benchmark_or_404(project, request.POST["b"]) if request.POST.get("b") else None
    form = SeriesForm(request.POST, with_b=b is not None)
    back = (
        _compare_redirect(project, a, b)
        if b
        else redirect("benchmark_detail", slug=project.slug, benchmark_id=a.pk)
    )
    if not form.is_valid():
        messages.error(request, " ".join(e for errors in form.errors.values() for e in errors))
        return back
    try:
        first, second = series.sides_for(a, b=b, kind=form.cleaned_data["kind"],
                                         is_admin=membership.has_role(Role.ADMIN))  # fmt: skip
        series.refuse_unsafe_start(project, first, second)
        started = series.start_series(project, request.user, first, second, form.cleaned_data["repetitions"],
                                      baseline=a, candidate=b)  # fmt: skip
    except services.BenchmarkRefused as exc:
        messages.error(request, exc.message)
        return back
    messages.info(
        request, f"Series #{started.pk} is queued: A and B run {started.repetitions_each} times each."
    )
    return redirect("benchmark_series", slug=project.slug, series_id=started.pk)


def _series_context(project, membership, found: BenchmarkSeries) -> dict:
    planned = series.repetitions(found)
    comparisons, problem = series.comparison(found, planned) if found.is_finished else ([], "")
    current = next((r.run for r in planned if r.run and not r.run.is_finished), None)
    return {"project": project, "series": found, "planned": planned, "current": current,
            "comparisons": _verdict_rows(comparisons), "problem": problem,
            "counted": (comparisons[0].baseline_samples, comparisons[0].candidate_samples) if comparisons else (),
            "can_run": membership.has_role(Role.ENGINEER),
            "threshold_percent": round(settings.BENCHMARK_SIGNIFICANCE_THRESHOLD * 100, 1)}  # fmt: skip


@login_required
@require_GET
def benchmark_series(request, slug, series_id):
    project, membership = get_project_for_user(request, slug)
    found = _series_or_404(project, series_id)
    context = _series_context(project, membership, found)
    if wants_partial(request):
        return task_partial(request, "benchmarks/_series.html", context, found)
    return render(request, "benchmarks/series.html", context)


@login_required
@require_POST
def benchmark_series_cancel(request, slug, series_id):
    project, _ = get_project_for_user(request, slug, Role.ENGINEER, action="benchmark.series_cancel")
    found = _series_or_404(project, series_id)
    messages.info(request, series.request_cancel(found, request.user))
    return redirect("benchmark_series", slug=project.slug, series_id=found.pk)

"""Machine endpoints for on-call alerting: JSON health per project and Prometheus /metrics (token auth).

Both serve the last stored HealthSnapshot, so a scrape never connects to (or wakes) a target.
"""

from django.http import Http404, HttpResponse, JsonResponse
from django.views.decorators.http import require_GET

from dashboard.api.services import health_payload, metrics_text
from dashboard.api.tokens import token_from_header
from dashboard.models import Project


def _unauthorized() -> HttpResponse:
    response = JsonResponse(
        {"error": "A valid token is required: Authorization: Bearer <token>."}, status=401
    )
    response["WWW-Authenticate"] = 'Bearer realm="neon-ops-dashboard"'
    return response


@require_GET
def api_health(request, slug):
    token = token_from_header(request.headers.get("Authorization", ""))
    if token is None:
        return _unauthorized()
    project = Project.objects.filter(slug=slug, team=token.team).first()
    if project is None:
        raise Http404("No such project")
    return JsonResponse(health_payload(project))


@require_GET
def metrics(request):
    token = token_from_header(request.headers.get("Authorization", ""))
    if token is None:
        return _unauthorized()
    projects = Project.objects.filter(team=token.team).order_by("slug")
    return HttpResponse(metrics_text(projects), content_type="text/plain; version=0.0.4; charset=utf-8")

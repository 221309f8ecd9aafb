"""Progress partials that htmx polls while a background task runs."""

from django.shortcuts import render
from django_htmx.http import HttpResponseStopPolling


def task_partial(request, template: str, context: dict, run) -> object:
    """Render the partial; once the run is over (or there is none) tell htmx to stop polling (286)."""
    response = render(request, template, context)
    if request.htmx and (run is None or run.is_finished):
        return HttpResponseStopPolling(response.content)
    return response

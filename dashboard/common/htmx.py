"""htmx in one place: which template answers a request, and when a polled partial stops polling.

The only thing htmx changes is which template renders. A history restore (htmx 2:
Back or Forward after a miss of htmx's history cache) carries HX-Request too, but
replaces the whole <body> with the answer, so it must get the whole page.
"""

from django.shortcuts import render
from django_htmx.http import HttpResponseStopPolling


def wants_partial(request) -> bool:
    """True for an htmx request that swaps part of a page; False for a full load or a history restore."""
    return bool(request.htmx) and not request.htmx.history_restore_request


def render_page(request, page: str, partial: str, context: dict, *, status: int = 200):
    """Render `partial` for htmx swaps, `page` otherwise."""
    return render(request, partial if wants_partial(request) else page, context, status=status)


def task_partial(request, template: str, context: dict, run) -> object:
    """Render the partial; once the run is over (or there is none) tell htmx to stop polling (286)."""
    response = render(request, template, context)
    if wants_partial(request) and (run is None or run.is_finished):
        return HttpResponseStopPolling(response.content)
    return response

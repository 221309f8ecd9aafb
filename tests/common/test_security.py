"""Production hardening: no inline script in templates, a CSP on every page, login throttling."""

import re
from pathlib import Path

import pytest

from tests.conftest import PASSWORD

TEMPLATES = Path(__file__).resolve().parents[2] / "templates"
# What the Content Security Policy (script-src 'self', style-src 'self') refuses to run or apply.
INLINE_SCRIPT = re.compile(r"<script\b(?![^>]*\bsrc=)[^>]*>", re.IGNORECASE)
EVENT_HANDLER = re.compile(r"<[^>]*\son[a-z]+\s*=", re.IGNORECASE)
INLINE_STYLE = re.compile(r"<style\b|<[^>]*\sstyle\s*=", re.IGNORECASE)
JAVASCRIPT_URL = re.compile(r"""(href|src|action)\s*=\s*["']?\s*javascript:""", re.IGNORECASE)
TEMPLATE_COMMENT = re.compile(r"{#.*?#}|{% comment %}.*?{% endcomment %}", re.DOTALL)


def template_problems(text: str) -> list[str]:
    text = TEMPLATE_COMMENT.sub("", text)  # comments never reach the page
    problems = []
    for what, pattern in (("inline <script>", INLINE_SCRIPT), ("on* event handler", EVENT_HANDLER),
                          ("inline style", INLINE_STYLE), ("javascript: URL", JAVASCRIPT_URL)):  # fmt: skip
        problems += [f"{what}: {m.group(0)[:80]}" for m in pattern.finditer(text)]
    return problems


def test_the_scan_finds_what_the_policy_refuses():
    assert template_problems('<script>alert(1)</script><script src="/s.js"></script>') == [
        "inline <script>: <script>"
    ]
    assert template_problems('<form class="x" onsubmit="return confirm(1)">')[0].startswith("on* event")
    assert template_problems('<td style="padding: 1em">')[0].startswith("inline style")
    assert template_problems('<a href="javascript:void(0)">')[0].startswith("javascript: URL")
    assert template_problems('<form data-confirm="Sure?" hx-post="/x/"><span class="onion">') == []
    assert template_problems("{# htmx would add an inline <style> #}<p>") == []


def test_no_template_has_inline_script_handlers_or_styles():
    found = {
        str(path.relative_to(TEMPLATES)): problems
        for path in sorted(TEMPLATES.rglob("*.html"))
        if (problems := template_problems(path.read_text()))
    }
    assert len(list(TEMPLATES.rglob("*.html"))) > 40
    assert found == {}


@pytest.mark.django_db
@pytest.mark.parametrize(
    "url", ["/accounts/login/", "/projects/", "/projects/shop/", "/projects/shop/schema/"]
)
def test_every_page_carries_the_content_security_policy(client_for, project, url):
    response = client_for(None if url == "/accounts/login/" else "viewer").get(url)
    assert response.status_code == 200
    policy = response["Content-Security-Policy"]
    directives = dict(d.strip().split(" ", 1) for d in policy.split(";"))
    assert directives["script-src"] == "'self'" and directives["style-src"] == "'self'"
    assert directives["object-src"] == "'none'" and directives["frame-ancestors"] == "'none'"
    assert "unsafe" not in policy


@pytest.mark.django_db
def test_login_is_locked_after_too_many_wrong_passwords_for_that_user_and_address(client, users, settings):
    limit = settings.AXES_FAILURE_LIMIT

    def log_in(username, password, address="203.0.113.7"):
        return client.post("/accounts/login/", {"username": username, "password": password},
                           REMOTE_ADDR=address)  # fmt: skip

    for _ in range(limit - 1):
        response = log_in("viewer", "wrong password")
        assert response.status_code == 200 and "did not match" in response.content.decode()
    locked = log_in("viewer", "wrong password")
    assert locked.status_code == 429
    assert f"Too many failed logins ({limit}) for this user name from your address" in locked.content.decode()
    assert "blocked for 15 minutes" in locked.content.decode()
    # Now even the right password is refused for this user from this address...
    refused = log_in("viewer", PASSWORD)
    assert refused.status_code == 429 and "_auth_user_id" not in client.session
    # ...while the same user from another address, and another user from this one, still log in.
    assert log_in("viewer", PASSWORD, address="198.51.100.9").status_code == 302
    client.logout()
    assert log_in("engineer", PASSWORD).status_code == 302


@pytest.mark.django_db
def test_a_successful_login_resets_the_failure_count(client, users, settings):
    def log_in(password):
        return client.post("/accounts/login/", {"username": "viewer", "password": password})

    for _ in range(settings.AXES_FAILURE_LIMIT - 1):
        log_in("wrong password")
    assert log_in(PASSWORD).status_code == 302
    client.logout()
    for _ in range(settings.AXES_FAILURE_LIMIT - 1):
        assert log_in("wrong password").status_code == 200

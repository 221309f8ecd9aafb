"""Production refuses insecure defaults; operators can manage teams without a browser."""

import subprocess
import sys
from io import StringIO
from pathlib import Path

import pytest
from django.core.management import CommandError, call_command

from dashboard.models import AuditEvent, Membership, Team

ROOT = Path(__file__).resolve().parents[2]


def start_with(env: dict, *args: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "manage.py", "check", *args],
        cwd=ROOT,
        capture_output=True,
        text=True,
        env={"PATH": "/usr/bin:/bin", "DJANGO_SETTINGS_MODULE": "config.settings", **env},
    )


def test_debug_is_off_unless_asked_for_so_a_bare_start_needs_real_keys():
    result = start_with({})
    assert result.returncode != 0
    assert "SECRET_KEY must be set when DEBUG is off" in result.stderr


def test_production_refuses_the_development_secret_key():
    result = start_with({"DEBUG": "0"})
    assert result.returncode != 0
    assert "SECRET_KEY must be set when DEBUG is off" in result.stderr


def test_production_refuses_the_development_encryption_key():
    result = start_with({"DEBUG": "0", "SECRET_KEY": "x" * 50})
    assert result.returncode != 0
    assert "FIELD_ENCRYPTION_KEYS must not contain the development key" in result.stderr


def test_a_malformed_setting_stops_the_app_with_its_name():
    result = start_with({"DEBUG": "1", "TARGET_CONNECT_TIMEOUT": "ten"})
    assert "TARGET_CONNECT_TIMEOUT must be an integer, got 'ten'" in result.stderr


def test_production_starts_with_real_keys():
    from cryptography.fernet import Fernet

    result = start_with(
        {
            "DEBUG": "0",
            "SECRET_KEY": "x" * 50,
            "FIELD_ENCRYPTION_KEYS": Fernet.generate_key().decode(),
            "ALLOWED_HOSTS": "ops.example.com",
        }
    )
    assert result.returncode == 0, result.stderr


def production_env(**extra) -> dict:
    from cryptography.fernet import Fernet

    return {"DEBUG": "0", "SECRET_KEY": "s3cr3t-" * 10, "FIELD_ENCRYPTION_KEYS": Fernet.generate_key().decode(),
            "ALLOWED_HOSTS": "ops.example.com", **extra}  # fmt: skip


def test_production_deploy_check_finds_hsts_and_secure_cookies_set():
    result = start_with(production_env(), "--deploy")
    assert result.returncode == 0, result.stderr
    output = result.stdout + result.stderr
    for warning in ("security.W004", "security.W012", "security.W016", "security.W002", "security.W019"):
        # W004: no HSTS; W012/W016: session/CSRF cookies not secure; W002/W019: clickjacking protection.
        assert warning not in output, output
    assert "security.W008" in output  # SECURE_SSL_REDIRECT stays an operator's choice (docs say when)


def settings_value(env: dict, name: str) -> str:
    code = f"import django; django.setup(); from django.conf import settings; print(repr(settings.{name}))"
    result = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True,
                            env={"PATH": "/usr/bin:/bin", "DJANGO_SETTINGS_MODULE": "config.settings", **env})  # fmt: skip
    assert result.returncode == 0, result.stderr
    return result.stdout.strip()


def test_the_proxy_ssl_header_is_trusted_only_when_switched_on():
    assert settings_value(production_env(), "SECURE_PROXY_SSL_HEADER") == "None"
    assert settings_value(production_env(TRUST_X_FORWARDED_PROTO="1"), "SECURE_PROXY_SSL_HEADER") == (
        "('HTTP_X_FORWARDED_PROTO', 'https')"
    )
    assert settings_value(production_env(), "SECURE_HSTS_SECONDS") == "31536000"
    assert settings_value({"DEBUG": "1"}, "SECURE_HSTS_SECONDS") == "0"


def test_create_team_and_add_member(db):
    call_command("create_team", "Data Platform")
    team = Team.objects.get(slug="data-platform")
    call_command(
        "add_member", "data-platform", "alice", "--role", "engineer", "--password", "pw-for-alice-123"
    )
    membership = Membership.objects.get(team=team, user__username="alice")
    assert membership.role == "engineer"
    assert membership.user.check_password("pw-for-alice-123")
    call_command("add_member", "data-platform", "alice", "--role", "admin")
    membership.refresh_from_db()
    assert membership.role == "admin"
    assert list(AuditEvent.objects.order_by("created_at").values_list("action", flat=True)) == [
        "team.create",
        "member.add",
        "member.change_role",
    ]


def test_add_member_to_unknown_team_fails_clearly(db):
    with pytest.raises(CommandError, match="No team with slug 'nope'"):
        call_command("add_member", "nope", "bob")


def test_key_rotation_reencrypts_with_the_new_key(project, settings):
    from cryptography.fernet import Fernet

    from dashboard.models import NeonBranch, Project

    branch = NeonBranch.objects.create(
        project=project,
        branch_id="br-rotate-1",
        name="dev",
        pooled_uri="postgresql://u:branch-secret@ep-x-pooler.example/db",
        direct_uri="postgresql://u:branch-secret@ep-x.example/db",
    )
    old_key = settings.FIELD_ENCRYPTION_KEYS[0]
    new_key = Fernet.generate_key().decode()
    settings.FIELD_ENCRYPTION_KEYS = [new_key, old_key]
    call_command("rotate_encryption_keys")
    settings.FIELD_ENCRYPTION_KEYS = [new_key]
    assert Project.objects.get(pk=project.pk).pooled_url == project.pooled_url
    # Branch URIs are credentials too: readable with only the new key once the old one is removed.
    rotated = NeonBranch.objects.get(pk=branch.pk)
    assert rotated.pooled_uri == branch.pooled_uri
    assert rotated.direct_uri == branch.direct_uri


def test_key_rotation_rotates_every_readable_secret_and_lists_the_unreadable_ones(project, team, settings):
    from cryptography.fernet import Fernet

    from dashboard.common.crypto import Ciphertext
    from dashboard.models import NeonBranch, Project

    lost_key = Fernet(Fernet.generate_key())  # a key nobody configured any more
    lost_token = lost_key.encrypt(b"npg_lost-api-key-value").decode()
    broken = Project.objects.create(team=team, name="Broken", slug="broken", pooled_url="postgresql://u:p@h/db",
                                    neon_project_id="proj-broken", neon_api_key="placeholder")  # fmt: skip
    Project.objects.filter(pk=broken.pk).update(neon_api_key=Ciphertext(lost_token))
    branch = NeonBranch.objects.create(project=broken, branch_id="br-broken-1", name="dev",
                                       pooled_uri="postgresql://u:branch-secret@ep-x-pooler.example/db")  # fmt: skip
    NeonBranch.objects.filter(pk=branch.pk).update(direct_uri=Ciphertext(lost_token))
    old_key = settings.FIELD_ENCRYPTION_KEYS[0]
    new_key = Fernet.generate_key().decode()
    settings.FIELD_ENCRYPTION_KEYS = [new_key, old_key]
    out, err = StringIO(), StringIO()

    with pytest.raises(CommandError, match="2 credential") as failed:
        call_command("rotate_encryption_keys", stdout=out, stderr=err)

    assert failed.value.returncode == 1  # manage.py exits with it
    listed = err.getvalue()
    assert "Cannot decrypt project broken: neon_api_key" in listed
    assert "Cannot decrypt neon branch dev of project broken: direct_uri" in listed
    assert "shop" not in listed and "lost-api-key" not in listed + out.getvalue() and lost_token not in listed
    # Every readable secret, on the broken rows too, now reads with the new key alone.
    settings.FIELD_ENCRYPTION_KEYS = [new_key]
    assert Project.objects.get(pk=project.pk).pooled_url == project.pooled_url
    assert Project.objects.get(pk=broken.pk).pooled_url == "postgresql://u:p@h/db"
    assert (
        NeonBranch.objects.get(pk=branch.pk).pooled_uri
        == "postgresql://u:branch-secret@ep-x-pooler.example/db"
    )
    # The unreadable ones are kept as they were (a restored old key could still read them).
    assert Project.objects.filter(pk=broken.pk).values_list("neon_api_key", flat=True).get() == lost_token

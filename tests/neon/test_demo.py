"""`manage.py neon_demo register` registers pagila-neon against a running stand-in."""

from django.core.management import call_command

from dashboard.models import NeonBranch, Project, Team
from dashboard.neon import demo
from tests.support import pg
from tests.support.neon_standin import RunningStandIn, StandIn


def test_register_creates_the_labelled_project_and_syncs_it(db, settings, tmp_path, monkeypatch, standin_db):
    key_file = tmp_path / "neon-standin.key"
    key_file.write_text("demo-key")
    monkeypatch.setattr(demo, "KEY_FILE", key_file)
    monkeypatch.setattr(demo, "STANDIN_DATABASE", standin_db)
    standin = StandIn(pg.url_for("postgres"), "demo-key", op_seconds=0.05)
    standin.add_project(demo.STANDIN_PROJECT_ID, standin_db)
    running = RunningStandIn(standin).start()
    settings.NEON_API_BASE_URL = running.base_url
    Team.objects.create(name="demo", slug="demo")
    try:
        call_command("neon_demo", "register")
        call_command("neon_demo", "register")  # idempotent
    finally:
        running.stop()
    project = Project.objects.get(slug="pagila-neon")
    assert "local Neon stand-in" in project.name
    assert project.neon_project_id == "pagila-neon"
    assert project.pooled_url.endswith(f":{standin.proxy_port}/{standin_db}")
    assert NeonBranch.objects.get(project=project).is_default
    assert Project.objects.filter(slug="pagila-neon").count() == 1

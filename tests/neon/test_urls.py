"""Branch and direct URLs for Neon hosts written in upper case (hosts are case-insensitive)."""

from dashboard.connections import direct_url, read_url
from dashboard.models import NeonBranch, NeonCompute, Project

UPPER_POOLED = (
    "postgresql://Alice:p%40ss%3Aword@EP-COOL-DARKNESS-123456-POOLER.US-EAST-2.AWS.NEON.TECH:5432/neondb"
    "?sslmode=require"
)


def upper_case_project(team):
    project = Project.objects.create(
        team=team, name="Upper", slug="upper", pooled_url=UPPER_POOLED, neon_project_id="proj-upper"
    )
    NeonBranch.objects.create(project=project, branch_id="br-main", name="main", is_default=True)
    dev = NeonBranch.objects.create(project=project, branch_id="br-dev", name="dev", parent_id="br-main")
    NeonCompute.objects.create(
        project=project, branch=dev, endpoint_id="ep-dev-777", host="ep-dev-777.us-east-2.aws.neon.tech"
    )
    return project


def test_direct_url_is_derived_from_an_upper_case_pooler_host(team):
    project = upper_case_project(team)
    assert project.effective_direct_url == (
        "postgresql://Alice:p%40ss%3Aword@ep-cool-darkness-123456.us-east-2.aws.neon.tech:5432/neondb"
        "?sslmode=require"
    )
    assert direct_url(project) == project.effective_direct_url


def test_branch_urls_use_the_branch_host_when_the_registered_host_is_upper_case(team):
    project = upper_case_project(team)
    assert read_url(project, "dev") == (
        "postgresql://Alice:p%40ss%3Aword@ep-dev-777-pooler.us-east-2.aws.neon.tech:5432/neondb"
        "?sslmode=require"
    )
    assert direct_url(project, "dev") == (
        "postgresql://Alice:p%40ss%3Aword@ep-dev-777.us-east-2.aws.neon.tech:5432/neondb?sslmode=require"
    )

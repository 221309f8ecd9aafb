"""Statement texts of any length (pg_stat_statements keeps them whole) are cut before a page parses them."""

import pytest

from dashboard.models import QueryText

pytestmark = pytest.mark.django_db


@pytest.fixture
def long_statement(project, settings):
    settings.QUERIES_PARSE_MAX_CHARS = 1000
    values = ", ".join(str(n) for n in range(2000))  # about 9,000 characters, like an ORM's IN list
    text = "".join(["SELECT * FROM items WHERE id IN (", values, ") AND tag = $1"])  # stored, never run
    return QueryText.objects.create(project=project, queryid=777, text=text, fingerprint="f" * 40)


def test_statement_page_shows_a_long_text_cut_and_does_not_parse_it(client_for, long_statement):
    body = client_for("engineer").get("/projects/shop/queries/777/").content.decode()
    assert "SELECT * FROM items WHERE id IN (0, 1, 2" in body
    assert "AND tag = $1" not in body
    assert f"({len(long_statement.text) - 1000:,} more characters not shown)" in body
    assert "texts over 1,000 characters are not parsed here, so it cannot be explained" in body


def test_explaining_a_long_text_is_refused_with_a_clear_message(client_for, long_statement):
    response = client_for("engineer").post(
        "/projects/shop/queries/777/explain/", {"mode": "plain", "param1": "x"}, HTTP_HX_REQUEST="true"
    )
    assert response.status_code == 200
    assert "texts over 1,000 characters are not parsed here" in response.content.decode()


def test_a_text_under_the_limit_is_still_laid_out_and_explainable(client_for, project, settings):
    settings.QUERIES_PARSE_MAX_CHARS = 1000
    QueryText.objects.create(
        project=project, queryid=778, text="SELECT 1 AS a, $1::int AS b", fingerprint="e" * 40
    )
    body = client_for("engineer").get("/projects/shop/queries/778/").content.decode()
    assert "not parsed here" not in body and "more characters not shown" not in body
    assert "param1" in body

"""Pages cost a fixed number of queries on the dashboard database, whatever the size of the schema."""

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

pytestmark = pytest.mark.django_db

PAGES = [
    "/projects/shop/schema/",
    "/projects/shop/schema/?q=t_&sort=-size&kind=r",
    "/projects/shop/schema/public/t_001/",
    "/projects/shop/schema/advice/",
    "/projects/shop/schema/objects/",
]


def queries_for(client, url) -> int:
    with CaptureQueriesContext(connection) as captured:
        assert client.get(url).status_code == 200
    return len(captured)


def test_page_query_counts_do_not_grow_with_the_schema(client_for, project, target_sql, snapshot):
    target_sql(*(f"CREATE TABLE t_{i:03d} (id int PRIMARY KEY, parent int REFERENCES t_000)" if i else
                 "CREATE TABLE t_000 (id int PRIMARY KEY)" for i in range(3)))  # fmt: skip
    snapshot()
    client = client_for("viewer")
    small = {url: queries_for(client, url) for url in PAGES}
    target_sql(
        *(f"CREATE TABLE t_{i:03d} (id int PRIMARY KEY, parent int REFERENCES t_000)" for i in range(3, 120))
    )
    snapshot()
    large = {url: queries_for(client, url) for url in PAGES}
    assert large == small
    assert small["/projects/shop/schema/public/t_001/"] <= 6

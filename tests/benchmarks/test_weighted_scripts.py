"""Several custom scripts with weights (pgbench's -f file@W) on the start form: checked, stored, run, shown."""

import pytest

from dashboard.models import BenchmarkRun, Project, TaskRun
from tests.benchmarks.conftest import make_run, run_here
from tests.support import pg

pytestmark = pytest.mark.django_db

NEW = "/projects/shop/benchmarks/new/"
CUSTOM = {"workload": "custom", "clients": "1", "duration_seconds": "2", "connection": "direct",
          "protocol": "prepared", "scale": "1"}  # fmt: skip
LOOKUP = "\\set aid random(1, 100000 * :scale)\nSELECT abalance FROM pgbench_accounts WHERE aid = :aid;\n"
COUNT = "-- the branches, all of them\nSELECT count(*) FROM pgbench_branches;\n"


def counts():
    return BenchmarkRun.objects.count(), TaskRun.objects.count()


@pytest.mark.parametrize(
    "fields, field, message",
    [
        ({"script_2_weight": "heavy"}, "script_2_weight", "Enter a whole number"),
        ({"script_2_weight": "-1"}, "script_2_weight", "greater than or equal to 0"),
        ({"script_2_weight": "1001"}, "script_2_weight", "less than or equal to 1000"),
        ({"script_weight": "2.5"}, "script_weight", "Enter a whole number"),
        ({"script_weight": "0", "script_2_weight": "0"}, "script_weight", "The weights add up to 0"),
        (
            {"script_2": "\\set x 1\nSELECT :x;\n\\set y rnd(1)\n"},
            "script_2",
            "custom #2 line 3: unknown function",
        ),
        ({"script_3": "SELECT 1;\n\nSELECT :nope;\n"}, "script_3", "custom #3 line 3: undefined variable"),
        ({"script": "", "script_2": COUNT}, "script", "Write the custom script"),
    ],
)
def test_bad_scripts_or_weights_get_a_clear_message_at_their_field_and_change_nothing(
    client_for, shop, fields, field, message
):
    before = counts()
    response = client_for("engineer").post(NEW, {**CUSTOM, "script": LOOKUP, "script_2": COUNT, **fields})
    assert response.status_code == 400
    errors = response.context["form"].errors
    assert list(errors) == [field] and message in " ".join(errors[field]), errors
    assert counts() == before
    page = response.content.decode()
    assert message in page and '<details id="more-scripts" open>' in page  # the fold opens on its error


def test_the_form_folds_the_extra_scripts_away_until_needed(client_for, shop):
    page = client_for("engineer").get(NEW).content.decode()
    assert '<details id="more-scripts" >' in page and "pgbench&#x27;s -f file@W" in page
    for name in ("script_weight", "script_2", "script_2_weight", "script_4", "script_4_weight"):
        assert f'name="{name}"' in page
    assert 'name="script_5"' not in page


def test_two_weighted_scripts_are_stored_drawn_by_weight_and_counted_on_the_run_page(client_for, shop):
    response = client_for("engineer").post(
        NEW, {**CUSTOM, "script": LOOKUP, "script_weight": "3", "script_2": COUNT, "script_2_weight": "1"}
    )
    assert response.status_code == 302, response.content.decode()[-2000:]
    run = BenchmarkRun.objects.get()
    stored = (LOOKUP.strip(), 3, [{"text": COUNT.strip(), "weight": 1}])  # the form strips the ends
    assert (run.script, run.script_weight, run.extra_scripts) == stored
    run = run_here(run)
    assert run.status == "finished", run.error
    scripts = run.result["scripts"]
    assert [(s["name"], s["weight"]) for s in scripts] == [("custom #1", 3), ("custom #2", 1)]
    lookups, tallies = scripts[0]["transactions"], scripts[1]["transactions"]
    assert tallies > 0 and 0.6 < lookups / (lookups + tallies) < 0.9  # about 3 in 4 by weight
    page = client_for("viewer").get(f"/projects/shop/benchmarks/{run.pk}/").content.decode()
    assert "custom #1, weight 3" in page and "custom #2, weight 1" in page
    assert "-- the branches, all of them" in page
    table = page[page.index('id="benchmark-scripts"') :]
    assert f'<td class="num">{lookups}</td>' in table and f'<td class="num">{tallies}</td>' in table


def test_a_lone_script_keeps_its_name_and_built_ins_store_no_script(client_for, shop):
    client = client_for("engineer")
    client.post(NEW, {**CUSTOM, "script": LOOKUP, "script_2_weight": "5"})  # a weight without a script
    run = BenchmarkRun.objects.get()
    assert (run.script_weight, run.extra_scripts) == (1, [])
    assert [s["name"] for s in run.custom_scripts] == ["custom"]
    BenchmarkRun.objects.update(status="finished")
    client.post(NEW, {**CUSTOM, "workload": "select-only", "script": LOOKUP, "script_2": COUNT})
    built_in = BenchmarkRun.objects.latest("pk")
    assert (built_in.script, built_in.extra_scripts, built_in.custom_scripts) == ("", [], [])


def test_a_counterpart_and_a_series_copy_every_script(client_for, shop, measured_results):
    run = make_run(shop, measured_results["one"], workload="custom", script=LOOKUP, script_weight=3,
                   extra_scripts=[{"text": COUNT, "weight": 1}], target_key="")  # fmt: skip
    client = client_for("engineer")
    client.post(f"/projects/shop/benchmarks/{run.pk}/counterpart/", {"kind": "pooled-vs-direct"})
    counterpart = BenchmarkRun.objects.latest("pk")
    assert (counterpart.script_weight, counterpart.extra_scripts) == (3, [{"text": COUNT, "weight": 1}])
    BenchmarkRun.objects.update(status="finished")
    client.post(
        "/projects/shop/benchmarks/series/new/", {"a": run.pk, "kind": "pooled-vs-direct", "repetitions": 2}
    )
    series = run.series_as_a.get()
    assert (
        series.b_options["extra_scripts"] == [{"text": COUNT, "weight": 1}]
        and series.b_options["script_weight"] == 3
    )


HOSTILE = "<script>alert('x')</script> \"q\" -- ünï"


def test_hostile_text_in_a_second_script_is_escaped(client_for, team, shop_database, measured_results):
    project = Project.objects.create(
        team=team, name="Shop", slug="shop", pooled_url=pg.url_for(shop_database)
    )
    hostile = f"-- {HOSTILE}\nSELECT '{HOSTILE.replace(chr(39), chr(39) * 2)}';\n"
    run = make_run(project, measured_results["one"], workload="custom", script=LOOKUP,
                   extra_scripts=[{"text": hostile, "weight": 2}])  # fmt: skip
    page = client_for("viewer").get(f"/projects/shop/benchmarks/{run.pk}/").content.decode()
    assert "<script>alert" not in page and "&lt;script&gt;alert(&#x27;x&#x27;)&lt;/script&gt;" in page
    assert "custom #2, weight 2" in page
    before = counts()
    response = client_for("engineer").post(
        NEW, {**CUSTOM, "script": LOOKUP, "script_2": f"\\set {HOSTILE}\n"}
    )
    assert response.status_code == 400 and "<script>alert" not in response.content.decode()
    assert "custom #2 line 1:" in response.content.decode() and counts() == before

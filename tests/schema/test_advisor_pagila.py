"""The advisor's findings on Pagila (the sample DVD-rental schema), recorded.

Pagila keeps serial keys, has foreign keys without a leading index (rental.customer_id,
staff.store_id ...), indexes each payment partition's customer_id twice, and uses char(20)
for language names. Everything else passes.
"""

import collections

from dashboard.advisor import run_rules
from dashboard.introspection.schema import read_catalog_from_url
from dashboard.targets.connect import TargetSettings
from tests.support import pg

MONTHS = range(1, 7)
EXPECTED = sorted(
    [("duplicate-index", f"payment_p2022_0{m}", f"idx_fk_payment_p2022_0{m}_customer_id") for m in MONTHS]
    + [("fk-without-index", f"payment_p2022_0{m}", f"payment_p2022_0{m}_rental_id_fkey") for m in MONTHS]
    + [
        ("fk-without-index", "film_category", "film_category_category_id_fkey"),
        ("fk-without-index", "inventory", "inventory_film_id_fkey"),
        ("fk-without-index", "rental", "rental_customer_id_fkey"),
        ("fk-without-index", "rental", "rental_staff_id_fkey"),
        ("fk-without-index", "staff", "staff_address_id_fkey"),
        ("fk-without-index", "staff", "staff_store_id_fkey"),
        ("fk-without-index", "store", "store_address_id_fkey"),
        ("varchar-or-char-n", "language", "name"),
    ]
    + [
        ("serial-not-identity", table, f"{table}_id")
        for table in (
            "actor",
            "address",
            "category",
            "city",
            "country",
            "customer",
            "film",
            "inventory",
            "language",
            "payment",
            "rental",
            "staff",
            "store",
        )
    ]  # fmt: skip
)


def test_advisor_findings_on_pagila(pagila_db):
    catalog = read_catalog_from_url(pg.url_for(pagila_db), TargetSettings(retries=0))
    found = run_rules(catalog)
    assert sorted((f.rule, f.table, f.object) for f in found) == EXPECTED
    assert collections.Counter(f.rule for f in found) == {
        "fk-without-index": 13, "serial-not-identity": 13, "duplicate-index": 6, "varchar-or-char-n": 1,
    }  # fmt: skip
    assert all(f.schema == "public" and f.fix_sql for f in found)
    dup = next(f for f in found if f.object == "idx_fk_payment_p2022_01_customer_id")
    assert dup.message.endswith("is identical to payment_p2022_01_customer_id_idx (customer_id).")

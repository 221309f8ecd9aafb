"""A small, steady workload on the demo Pagila database so query statistics are never empty."""

import random
import time

import psycopg
from django.core.management.base import BaseCommand

from dashboard.demo.setup import demo_database, server_conninfo

QUERIES = [
    ("SELECT title, rental_rate FROM film WHERE film_id = %s", lambda: [random.randint(1, 1000)]),
    ("SELECT count(*) FROM rental WHERE customer_id = %s", lambda: [random.randint(1, 599)]),
    (
        "SELECT c.first_name, c.last_name, sum(p.amount) FROM customer c JOIN payment p USING (customer_id) "
        "WHERE c.customer_id = %s GROUP BY 1, 2",
        lambda: [random.randint(1, 599)],
    ),
    (
        "SELECT f.title FROM film f JOIN film_category fc USING (film_id) JOIN category c USING (category_id) "
        "WHERE c.name = %s ORDER BY f.title LIMIT 20",
        lambda: [random.choice(["Action", "Comedy", "Drama", "Horror"])],
    ),
    (
        "SELECT * FROM film WHERE fulltext @@ to_tsquery(%s)",
        lambda: [random.choice(["dog", "cat", "drama", "boat"])],
    ),
    ("SELECT store_id, count(*) FROM inventory GROUP BY store_id", lambda: []),
    # Deliberately unindexed filter, to give the slow-statement views something to show.
    (
        "SELECT count(*) FROM payment WHERE amount > %s AND payment_date > now() - interval '20 years'",
        lambda: [random.choice([1, 5, 9])],
    ),
    ("UPDATE customer SET last_update = now() WHERE customer_id = %s", lambda: [random.randint(1, 599)]),
]


class Command(BaseCommand):
    help = "Run a light query mix against the demo database until interrupted."

    def add_arguments(self, parser):
        parser.add_argument("--interval", type=float, default=0.5, help="Seconds between batches.")
        parser.add_argument(
            "--batches", type=int, default=0, help="Stop after this many batches (0: forever)."
        )

    def handle(self, *args, interval, batches, **options):
        done = 0
        while batches == 0 or done < batches:
            try:
                self.run_batch()
            except psycopg.Error as exc:
                self.stderr.write(f"workload: {type(exc).__name__}; retrying in 5 s")
                time.sleep(5)
            done += 1
            time.sleep(interval)

    def run_batch(self):
        conninfo = {
            **server_conninfo(demo_database()),
            "application_name": "demo-workload",
            "connect_timeout": 5,
        }
        with psycopg.connect(**conninfo, autocommit=True) as conn:
            for _ in range(20):
                query, params = random.choice(QUERIES)
                conn.execute(query, params())

"""Catalog and statistics queries against target databases.

Plain functions returning dataclasses; nothing here imports Django. See
`schema.read_catalog` (a fixed number of queries, whatever the number of tables)
and `model` (the dataclasses, with to_dict/from_dict for storing snapshots).
"""

"""Chart peaks and bar labels read as people expect for each unit."""

import pytest

from dashboard.queries.reports import format_measure


@pytest.mark.parametrize(
    "value,unit,shown",
    [
        (1106.0, "calls", "1,106 calls"),
        (1234567, "rows", "1,234,567 rows"),
        (0.0, "calls", "0 calls"),
        (0.0421, "ms", "0.042 ms"),
        (3.14159, "ms", "3.14 ms"),
        (12.345, "ms", "12.3 ms"),
        (456.7, "ms", "457 ms"),
        (1234.5, "ms", "1.23 s"),
        (0.0, "ms", "0.00 ms"),
        (512, "bytes", "512 B"),
        (1536, "bytes", "1.5 KiB"),
        (5 * 1024**3, "bytes", "5.0 GiB"),
    ],
)
def test_each_unit_is_formatted_as_people_read_it(value, unit, shown):
    assert format_measure(value, unit) == shown

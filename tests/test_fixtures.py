"""Every fixture project: expected markers and actual findings must agree both ways."""

import pytest

from fixture_runner import FIXTURES, actual_findings, expected_markers, fixture_codes


@pytest.mark.parametrize("code", fixture_codes())
def test_fixture_markers_match_findings(code):
    folder = FIXTURES / code
    expected = expected_markers(folder, code)
    actual, errors = actual_findings(folder, code)
    assert not errors, f"internal errors: {errors}"
    missing = sorted(expected - actual)
    unexpected = sorted(actual - expected)
    assert not missing and not unexpected, f"{code}: not reported {missing}; reported on unmarked lines {unexpected}"

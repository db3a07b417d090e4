"""Each feature group is one record (arithmetic/feature_groups.py): its patterns compile, its
words read, a name that is no group is refused, and the search's groups name only records."""
from __future__ import annotations

import re

import pytest

from arithmetic.feature_groups import FEATURE_GROUPS, feature_column, group, group_words
from machinery.params import load_params
from tests.conftest import PROJECT


def test_every_record_is_well_formed():
    for name, record in FEATURE_GROUPS.items():
        assert record.name == name and record.columns and record.words
        for pattern in (*record.columns, *record.known):
            re.compile(pattern)
        assert "{" not in record.words.format(primes_max=100)


def test_a_column_belongs_to_its_group():
    assert group("ap").holds("ap_97") and not group("ap").holds("ap_norm")
    assert feature_column("kodaira_I0*") and feature_column("z3") and not feature_column("rank2")


def test_a_name_that_is_no_group_is_refused():
    with pytest.raises(KeyError, match="'novel' is not a feature group"):
        group("novel")


def test_the_search_groups_name_records():
    params = load_params(PROJECT / "params.yaml")
    for members in params.search.groups.values():
        assert group_words(members, params.features.primes_max)

"""Reading Cremona's tables from passagemath-pari-elldata: counts, structure errors, checksums."""
from __future__ import annotations

import base64
import hashlib
import shutil

import polars as pl
import pytest

from arithmetic.schemas import CURVE_SCHEMA
from sources.elldata import (CONDUCTOR_BOUND, ElldataError, TableFile, files_for_range,
                             parse_gp_vector, read_curves, read_table, table_files)


def test_the_wheel_has_every_table_file():
    files = table_files()
    assert sorted(files) == list(range(CONDUCTOR_BOUND // 1000))
    assert all(f.sha256 for f in files.values())


def test_default_range_has_64687_curves():
    curves = read_curves(1, 10_000)
    assert len(curves) == 64_687
    assert curves["isogeny_class"].n_unique() == 38_042
    assert dict(curves.schema) == CURVE_SCHEMA
    assert curves["conductor"].min() == 11 and curves["conductor"].max() == 9999
    assert curves["label"].is_unique().all()


def test_records_and_exact_values():
    curves = read_curves(9003, 9004).filter(pl.col("label").is_in(["9003a1", "9003c1"]))
    a1, c1 = curves.to_dicts()
    assert a1["isogeny_class"] == "9003a" and a1["number"] == 1 and a1["conductor"] == 9003
    assert [int(a) for a in a1["ainvs"]] == [1, 1, 0, -1561, -38876]
    assert a1["gens"] == [["2388/49", "12692/343"]]
    assert c1["gens"] == [["-1", "4"], ["1", "7"]]


def test_85_bit_coefficients_are_exact():
    curve = read_curves(417582, 417583).filter(pl.col("label") == "417582bd1")
    assert int(curve["ainvs"].item()[4]).bit_length() == 85
    assert str(curve["ainvs"].item()[4]).lstrip("-") == "30678844976992324746846613"


def test_range_is_half_open():
    curves = read_curves(37, 38)
    assert set(curves["conductor"]) == {37}


def test_range_beyond_the_tables():
    with pytest.raises(ElldataError, match="cover conductors < 500000"):
        files_for_range(1, 500_001, table_files())


def test_parse_errors_name_line_and_column():
    assert parse_gp_vector('[[11,["11a1",[0,-1,1,-10,-20],[[-2388/49,5]]]]]', "t") == \
        [[11, ["11a1", [0, -1, 1, -10, -20], [["-2388/49", 5]]]]]
    with pytest.raises(ElldataError, match=r"^f: line 2, column 4: malformed GP vector"):
        parse_gp_vector("[[1,\n 2,,]]", "f")
    with pytest.raises(ElldataError, match=r"line 1, column 6: .*unexpected '\.'"):
        parse_gp_vector("[[1,2.5]]", "f")
    with pytest.raises(ElldataError, match=r"line 1, column 6: .*unexpected 'e'"):
        parse_gp_vector("[[1,2e5]]", "f")


def _table(tmp_path, text: str, name: str = "ell0") -> TableFile:
    path = tmp_path / name
    path.write_text(text)
    return TableFile(path, None)


@pytest.mark.parametrize("text, message", [
    ('[[11,["11a1",[0,-1,1,-10],[]]]]',
     r"ell0: line 1, column 6: block 1 \(N=11\), curve 1 \(11a1\): ainvs must be 5 integers"),
    ('[[11,["11a1",[0,-1,1,-10,-20]]]]',
     r"ell0: line 1, column 6: block 1 \(N=11\), curve 1: expected \[label, ainvs, gens\]"),
    ('[[11,["11-a1",[0,-1,1,-10,-20],[]]]]', r"curve 1: '11-a1' is not a Cremona label"),
    ('[[11,["14a1",[1,0,1,4,-6],[]]]]',
     r"\(14a1\): label conductor differs from the block's conductor 11"),
    ('[[11,["11a1",[0,-1,1,-10,-20],[[1,2,3]]]]]', r"\(11a1\): gens must be a vector of points"),
    ('[[11,["11a1",[0,-1,1,-10,-20],[["x",1]]]]]',
     r"\(11a1\): generator coordinate 'x' is not a rational number"),
    ('[[11,["11a1",[0,-1,1,-10,-20],[]]],[11,["11a2",[0,-1,1,-7820,-263580],[]]]]',
     r"ell0: line 1, column 36: block 2: conductor 11 out of order"),
    ('[[1011,["1011a1",[0,1,1,-10,-20],[]]]]',
     r"ell0: line 1, column 2: block 1: conductor 1011 does not belong in ell0"),
    ('[[11,["11a1",[0,-1,1,-10,"x"],[]]]]', r"ainvs must be 5 integers"),
])
def test_structure_errors_name_the_place(tmp_path, text, message):
    with pytest.raises(ElldataError, match=message) as err:
        read_table(_table(tmp_path, text), 1, 1000)
    assert str(err.value).startswith(f"{tmp_path / 'ell0'}: line 1, column ")


def test_a_record_is_placed_by_line_and_column(tmp_path):
    """The tables are one line each: the column of the record's opening bracket finds it, past
    strings holding brackets and commas, and on a later line when the vector is spread out."""
    text = ('[[11,["11a1",[0,-1,1,-10,-20],[]]],\n'
            ' [37, ["37a1",[0,0,1,-1,0],[]], ["37[,]a2",[0,0,1,-1,0],[]]]]')
    with pytest.raises(ElldataError, match=r"ell0: line 2, column 33: block 2 \(N=37\), "
                                           r"curve 2: '37\[,\]a2' is not a Cremona label"):
        read_table(_table(tmp_path, text), 1, 1000)
    (tmp_path / "ell0").write_bytes(b'[[11,\n ["11a1"\xff')
    with pytest.raises(ElldataError, match=r"ell0: line 2, column 9: byte 14 \(0xff\) is not "
                                           r"ASCII text"):
        read_table(TableFile(tmp_path / "ell0", None), 1, 1000)


def test_checksum_mismatch_is_reported(tmp_path):
    original = table_files()[0]
    copy = tmp_path / "ell0"
    shutil.copy(original.path, copy)
    assert read_table(TableFile(copy, original.sha256), 11, 12)  # intact copy reads
    copy.write_bytes(copy.read_bytes().replace(b"-7820", b"-7821", 1))
    with pytest.raises(ElldataError, match=r"ell0: wrong checksum: sha256 .* "
                                           r"but the passagemath-pari-elldata RECORD says"):
        read_table(TableFile(copy, original.sha256), 11, 12)
    digest = (base64.urlsafe_b64encode(hashlib.sha256(copy.read_bytes()).digest())
              .rstrip(b"=").decode())
    assert read_table(TableFile(copy, digest), 11, 12)[1].ainvs[3] == -7821


@pytest.mark.slow
def test_full_table_has_3064705_curves():
    tables = files_for_range(1, CONDUCTOR_BOUND, table_files())
    assert sum(len(read_table(t, 1, CONDUCTOR_BOUND)) for t in tables) == 3_064_705

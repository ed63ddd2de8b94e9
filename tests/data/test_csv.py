"""The CSV upload rules (mlp_playground.data.csv_data), against the cases shared with the page.

tests/csv_cases.json is also run against static/js/csv.js in the browser, so both parsers
accept and refuse the same files.
"""

import json

import numpy as np
import pytest

from mlp_playground.data.csv_data import DataError, detect_delimiter, parse_csv, split_fields
from tests.support.servers import ROOT

#: Shared with tests/browser/test_page_i18n_csv.py, hence at the top of tests/.
CASES = json.loads((ROOT / "tests" / "csv_cases.json").read_text(encoding="utf-8"))


@pytest.mark.parametrize("case", CASES["cases"], ids=[c["name"] for c in CASES["cases"]])
def test_shared_case(case):
    if "error" in case:
        with pytest.raises(DataError) as info:
            parse_csv(case["text"])
        assert case["error"] in info.value.message
        assert info.value.line == case["line"]
        return
    X, y = parse_csv(case["text"])
    assert X.tolist() == case["points"] and y.tolist() == case["labels"]
    assert X.dtype == np.float64 and y.dtype == np.int64


def test_french_spreadsheet_row():
    X, y = parse_csv("0,5;1,2;0")
    assert X.tolist() == [[0.5, 1.2]] and y.tolist() == [0]


@pytest.mark.parametrize(
    ("line", "delimiter"),
    [("a;b,c\td", ";"), ("a,b\tc", "\t"), ("a,b,c", ","), ("abc", ",")],
)
def test_delimiter_detection_prefers_semicolon_then_tab(line, delimiter):
    assert detect_delimiter(line) == delimiter


def test_quoted_fields_keep_delimiters_and_escaped_quotes():
    assert split_fields('"a,b" , "say ""hi""",c', ",", 1) == ["a,b", 'say "hi"', "c"]
    assert split_fields('"1,5";2', ";", 1) == ["1.5", "2"]
    assert split_fields(" 1 ;; 2 ", ";", 1) == ["1", "", "2"]


def test_decimal_comma_only_in_the_strict_form():
    # "1,234,5" and "1,2.5" are not decimal-comma numbers: they stay as they are.
    assert split_fields('"1,234,5";"1,2.5";"-3,5e+2"', ";", 1) == ["1,234,5", "1,2.5", "-3.5e+2"]


def test_crlf_and_blank_lines_keep_line_numbers():
    with pytest.raises(DataError) as info:
        parse_csv("x1;x2;label\r\n\r\n1;2;0\r\n1;2;x\r\n")
    assert info.value.line == 4


def test_round_trip_of_written_csv():
    from mlp_playground.data.csv_data import to_csv

    X = np.array([[1e-5, -0.0], [123456789.125, 2.5e20]])
    y = np.array([0, 3])
    X2, y2 = parse_csv(to_csv(X, y))
    np.testing.assert_array_equal(X2, X)
    np.testing.assert_array_equal(y2, y)

"""fer_core.data.csvout: downloaded tables open safely in a spreadsheet."""

from fer_core.data.csvout import safe_cell, table_csv


def test_formula_cells_are_quoted_and_missing_values_empty():
    assert safe_cell("=HYPERLINK(1)") == "'=HYPERLINK(1)" and safe_cell("-1+1") == "'-1+1"
    assert safe_cell(None) == "" and safe_cell(-0.5) == -0.5 and safe_cell("happy") == "happy"


def test_table_keeps_the_column_order_and_ignores_other_keys():
    out = table_csv([{"b": 2, "a": "@x", "extra": 9}, {"a": None, "b": 3}], ["a", "b"]).decode()
    assert out.splitlines() == ["a,b", "'@x,2", ",3"]

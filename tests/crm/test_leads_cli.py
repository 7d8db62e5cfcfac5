"""`shopflow leads import` and `shopflow leads list` against a store on disk."""

from __future__ import annotations

from pathlib import Path

from tests.test_cli import Shop, migrated, ok, shopflow

CSV = """name,phone,need_tags,source,budget,quantity,quote_asked
王五,13900139001,办公设备|打印机,fair,50000.00,200,yes
赵六,1390013900,母婴用品,,,,
钱七,13900139002,母婴用品,,,,
孙八,13900139003,,,,,
王五,13900139001,碎纸机,phone,,,
"""


def test_import_loads_the_good_rows_and_lists_each_bad_one_by_line(shop: Shop, tmp_path: Path) -> None:
    migrated(shop)
    path = tmp_path / "leads.csv"
    path.write_text(CSV, encoding="utf-8")

    result = shopflow("leads", "import", str(path))

    assert result.exit_code == 1, result.output
    assert "2 leads stored, 1 rows appended to open leads, 2 rows with errors" in result.output
    assert "3 " in result.output and "phone" in result.output
    assert "5 " in result.output and "need_tags" in result.output
    assert shop.count("leads") == 2
    assert shop.count("lead_intakes") == 3
    assert shop.count("sla_clocks", "kind = 'lead.first_contact'") == 2


def test_list_filters_by_grade_and_masks_contacts(shop: Shop, tmp_path: Path) -> None:
    migrated(shop)
    path = tmp_path / "leads.csv"
    path.write_text(CSV.split("\n孙八")[0] + "\n", encoding="utf-8")
    shopflow("leads", "import", str(path))

    listed = ok("leads", "list", "--grade", "A")
    late = ok("leads", "list", "--late")

    assert "1 leads" in listed.output
    assert "139****9001" in listed.output
    assert "13900139002" not in listed.output and "139****9002" not in listed.output
    assert "0 leads" in late.output
    assert shopflow("leads", "list", "--grade", "D").exit_code == 1

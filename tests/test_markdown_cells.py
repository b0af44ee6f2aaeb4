"""A Markdown table keeps one row per line whatever a value holds."""

from autodehypo.reports.tables import Row, render


def test_pipes_and_line_breaks_stay_inside_their_cell():
    rows = [Row(group="a|b\nsecond line", best=0.5, best_params={}, wall_time_s=1.0, trial_time_s=2.0,
                energy_j=3.0, trials=4, failed=0, sources="rapl|estimate")]
    lines = render(rows, "md", "we|ird\r\nlabel").splitlines()
    assert len(lines) == 3
    header, _, row = lines
    assert header.startswith("| we\\|ird<br>label | best |")
    assert row.startswith("| a\\|b<br>second line | 0.5 |")
    # Unescaped pipes delimit cells: as many in every line.
    assert all(line.replace("\\|", "").count("|") == header.replace("\\|", "").count("|") for line in lines)

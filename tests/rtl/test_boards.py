"""Board builds: the SoC elaborates for each board's platform, and nextpnr's report is parsed.

The YoWASP place-and-route itself is `edgeasr build --board NAME` (minutes per board); here only
the build plan is produced, which already runs Amaranth's elaboration and pin/clock requests.
"""

import pytest

from edgeasr.rtl.boards import BOARDS, BoardTop, _platform, apply_limits, parse_report

NEXTPNR_LOG = """\
Info: Device utilisation:
Info:             TRELLIS_IO:       5/    365     1%
Info:                 DP16KD:     143/    208    68%
Info:             MULT18X18D:      21/    156    13%
Info:           TRELLIS_COMB:   12195/  83640    14%
Info: Max frequency for clock '$glbnet$pll.clk_out': 24.21 MHz (FAIL at 100.00 MHz)
"""


def test_parse_report_reads_utilisation_and_fmax():
    report = parse_report(NEXTPNR_LOG)
    assert report["utilisation"]["DP16KD"] == {"used": 143, "available": 208}
    assert report["utilisation"]["TRELLIS_COMB"] == {"used": 12195, "available": 83640}
    assert report["fmax_mhz"] == {"$glbnet$pll.clk_out": {"fmax": 24.21, "target": 100.0}}


def test_limits_cap_what_nextpnr_reports_for_a_shared_die():
    report = apply_limits(parse_report(NEXTPNR_LOG), BOARDS["ulx3s-12f"].limits)
    assert report["utilisation"]["DP16KD"] == {"used": 143, "available": 32, "die_available": 208}
    assert report["utilisation"]["TRELLIS_COMB"]["available"] == 12_000
    assert report["utilisation"]["TRELLIS_IO"] == {"used": 5, "available": 365}


@pytest.mark.parametrize("name", sorted(BOARDS))
def test_board_design_elaborates(name, tmp_path):
    board = BOARDS[name]
    plan = _platform(board).build(BoardTop(board), name="nep_soc", build_dir=str(tmp_path), do_build=False)
    files = set(plan.files)
    assert "nep_soc.il" in files, sorted(files)
    assert any(f.endswith((".lpf", ".pcf")) for f in files), sorted(files)

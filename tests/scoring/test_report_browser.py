"""The HTML report in a real browser (headless Debian Chromium): it renders, not blank, the
summary is in the laid-out page, the Chinese text has a CJK font, the charts are there."""

from __future__ import annotations

import json
import re
import subprocess
import sys

import pytest

from scoring.report_html import FONTS
from tests.conftest import require_program
from tests.peers.chromium import chromium  # noqa: F401
from tests.scoring.months import november


@pytest.fixture(scope="module")
def rendered(tmp_path_factory, chromium):  # noqa: F811
    tmp = tmp_path_factory.mktemp("browser")
    facts = tmp / "facts.json"
    facts.write_text(json.dumps(november(), ensure_ascii=False), "utf-8")
    run = [sys.executable, "-m", "hotline", "score", "--facts", str(facts)]
    page = tmp / "report.html"
    done = subprocess.run([*run, "--format", "html", "-o", str(page)], capture_output=True)
    assert done.returncode == 0, done.stderr
    report = json.loads(subprocess.run(run, capture_output=True, check=True).stdout)
    png = tmp / "report.png"
    chromium.screenshot(page, png, 1200, 1600)
    return report, chromium.dump_dom(page), png


def test_the_screenshot_is_not_blank(rendered):
    from PIL import Image

    _, _, png = rendered
    with Image.open(png) as image:
        rgb = image.convert("RGB")
        assert rgb.size == (1200, 1600)
        top = rgb.crop((0, 0, 1200, 800))
        colours = top.getcolors(maxcolors=1 << 20) or []
        assert len(colours) > 50  # text, table borders, shading: not one flat colour
        non_white = sum(n for n, c in colours if sum(c) < 3 * 235)
        assert non_white > 0.01 * 1200 * 800
        # The charts (coloured fault/maintenance bars) are on the page somewhere.
        full = rgb.getcolors(maxcolors=1 << 22) or []
        assert any(_reddish(c) for _, c in full)


def _reddish(c: tuple[int, int, int]) -> bool:
    r, g, b = c
    return r > 180 and g < 110 and b < 110


def test_the_summary_is_in_the_rendered_dom(rendered):
    report, dom, _ = rendered
    assert '<meta charset="utf-8">' in dom
    summary = dom[dom.index('id="summary"') : dom.index('id="flags"')]
    assert "得分汇总" in summary and "合计" in summary
    assert re.search(rf"总分\s*<strong[^>]*>{re.escape(str(report['total']))}", summary)
    for key, item in report["items"].items():
        assert f'data-key="{key}"' in summary
        assert item["name"] in summary
    assert dom.count("<svg") >= 3


def test_chinese_text_is_set_in_a_cjk_font():
    fc_match = require_program("fc-match", "fontconfig, to check the CJK font")
    first = FONTS.split(",")[0].strip().strip('"')
    assert first == "Noto Sans CJK SC"
    found = subprocess.run(
        [fc_match, "-f", "%{family}|%{file}", first], capture_output=True, text=True, check=True
    ).stdout
    if "CJK" not in found:
        pytest.fail(f"{first} resolves to {found!r}: install fonts-noto-cjk", pytrace=False)
    covering = subprocess.run(
        ["fc-list", ":lang=zh-cn", "family"], capture_output=True, text=True, check=True
    ).stdout
    assert "Noto Sans CJK SC" in covering

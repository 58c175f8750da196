"""The PDF report: WeasyPrint lays the HTML out on A4 with the CJK font; the text is there."""

from __future__ import annotations

import io
import json
import shutil
import subprocess
import sys

import pytest

from tests.conftest import IN_CI
from tests.scoring.months import november


@pytest.fixture(autouse=True)
def _weasyprint():
    try:
        import weasyprint  # noqa: F401
    except (ImportError, OSError) as exc:
        message = f"WeasyPrint cannot load ({exc}); scripts/test installs it"
        if IN_CI:
            pytest.fail(message, pytrace=False)
        pytest.skip(message)


def test_the_pdf_holds_the_summary_on_a4_pages(tmp_path):
    from pypdf import PdfReader

    path = tmp_path / "facts.json"
    path.write_text(json.dumps(november(), ensure_ascii=False), "utf-8")
    run = [sys.executable, "-m", "hotline", "score", "--facts", str(path)]
    pdf = tmp_path / "report.pdf"
    done = subprocess.run([*run, "--format", "pdf", "-o", str(pdf)], capture_output=True)
    assert done.returncode == 0, done.stderr
    report = json.loads(subprocess.run(run, capture_output=True, check=True).stdout)
    reader = PdfReader(io.BytesIO(pdf.read_bytes()))
    assert len(reader.pages) >= 2
    box = reader.pages[0].mediabox
    assert (round(float(box.width)), round(float(box.height))) == (595, 842)  # A4 in points
    first = "".join(reader.pages[0].extract_text().split())
    assert "得分汇总" in first and "2026-11" in first
    assert f"总分{report['total']:g}" in first
    for item in report["items"].values():
        assert item["name"] in first, item["name"]
    whole = "".join("".join(page.extract_text().split()) for page in reader.pages)
    for flag in report["flags"]:
        if "incident" in flag:
            assert flag["incident"] in whole
    if shutil.which("pdftotext"):
        text = subprocess.run(
            ["pdftotext", "-layout", str(pdf), "-"], capture_output=True, check=True
        ).stdout.decode("utf-8")
        assert "合计" in text and "排队机可用率" in text

"""The report in a real browser: headless Chromium, no console error, no missing image, no broken link.

Chromium is Debian's ``chromium`` package (``.ci/run`` installs it when missing). The test
is skipped, saying so, only where no Chromium executable can be found. A full-page
screenshot is saved next to the test's temporary files (its path is printed) and, when
``VOXELOMICS_ARTIFACTS`` names a folder, copied there.
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest
from browser_driver import Browser, find_chromium

CHECKS = """(() => {
  const bad_images = [...document.images].filter(i => !(i.complete && i.naturalWidth > 0))
    .map(i => i.alt || i.src.slice(0, 60));
  const broken = [];
  for (const a of document.querySelectorAll('a[href]')) {
    const href = a.getAttribute('href');
    if (href.startsWith('#')) {
      if (!document.getElementById(decodeURIComponent(href.slice(1)))) broken.push(href);
    } else if (href.startsWith('data:')) {
      try { if (atob(href.split(',', 2)[1]).length === 0) broken.push(a.download + ' (empty)'); }
      catch (e) { broken.push(a.download + ' (not base64)'); }
    } else {
      broken.push(href + ' (leaves the page)');
    }
  }
  return {images: document.images.length, bad_images, links: document.links.length, broken,
          sections: [...document.querySelectorAll('section')].map(s => s.id)};
})()"""


@pytest.fixture(scope="module")
def chromium() -> str:
    exe = find_chromium()
    if exe is None:
        pytest.skip("Chromium is not installed and could not be installed here (.ci/run installs "
                    "Debian's 'chromium' with apt-get): the browser test cannot run")
    return exe


def test_report_opens_in_chromium_without_errors(study_run, chromium, tmp_path):
    _, out = study_run
    with Browser(chromium) as browser:
        browser.open(out / "report.html")
        result = browser.evaluate(CHECKS)
        shot = tmp_path / "report.png"
        width, height = browser.screenshot(shot)
        errors = browser.console_errors()
    print(f"screenshot of the report ({width} x {height} px): {shot}")
    artifacts = os.environ.get("VOXELOMICS_ARTIFACTS")
    if artifacts:
        Path(artifacts).mkdir(parents=True, exist_ok=True)
        shutil.copy(shot, Path(artifacts) / "report.png")
    assert errors == [], errors
    assert result["bad_images"] == [], result["bad_images"]
    assert result["broken"] == [], result["broken"]
    assert result["images"] > 20 and result["links"] > 20
    assert result["sections"] == ["summary", "run", "cohort", "qc", "failures", "features", "models",
                                  "provenance"]
    assert shot.stat().st_size > 50_000 and height > 3000


def test_the_browser_check_catches_a_broken_page(chromium, tmp_path):
    """The checks are not vacuous: a missing image, a dead anchor and a console error are caught."""
    page = tmp_path / "broken.html"
    page.write_text('<html><body><img src="missing.png" alt="missing"><a href="#nowhere">x</a>'
                    '<a href="https://example.org">y</a><script>console.error("boom")</script></body></html>')
    with Browser(chromium) as browser:
        browser.open(page)
        result = browser.evaluate(CHECKS)
        errors = browser.console_errors()
    assert result["bad_images"] == ["missing"]
    assert result["broken"] == ["#nowhere", "https://example.org (leaves the page)"]
    assert any("boom" in e for e in errors)
    assert any("missing.png" in e for e in errors)  # the failed load is a browser log error

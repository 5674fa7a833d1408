"""The HTML page in a real browser: headless Chromium loads it with no network, takes a
screenshot, and the rendered DOM shows each region of each leg in the colour of its status."""

from __future__ import annotations

import json
import re
import shutil
import subprocess
from pathlib import Path

import pytest

from kgmassage import assess
from kgmassage.report import COLOURS, region_statuses, to_html

AT = "2026-11-20T10:00:00Z"
FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
         "--disable-background-networking", "--disable-component-update", "--disable-sync"]
RECORD = {"id": "browser", "conditions": [
    {"type": "DeepVeinThrombosis", "side": "left", "onset": "2026-11-19"},
    {"type": "OpenWound", "site": "Thigh", "side": "right"}]}


@pytest.fixture(scope="module")
def chromium() -> str:
    found = shutil.which("chromium") or shutil.which("chromium-browser")
    if found is None:
        pytest.skip("Chromium is not installed (Debian: apt-get install chromium)")
    return found


def test_the_page_renders_with_the_right_colours(chromium: str, tmp_path: Path) -> None:
    assessment = assess(RECORD, at=AT)
    page = tmp_path / "assessment.html"
    page.write_text(to_html([assessment]), encoding="utf-8")
    common = [chromium, *FLAGS, f"--user-data-dir={tmp_path / 'profile'}"]
    shot = tmp_path / "assessment.png"
    subprocess.run([*common, f"--screenshot={shot}", "--window-size=1100,900", page.as_uri()],
                   capture_output=True, timeout=120, check=True)
    assert shot.stat().st_size > 10_000
    dom = subprocess.run([*common, "--dump-dom", page.as_uri()], capture_output=True,
                         text=True, timeout=120, check=True).stdout
    rects = dict(re.findall(r'<rect id="([a-z]+-[A-Za-z]+)"[^>]* fill="(#[0-9a-f]+)"', dom))
    expected = {f"{side}-{region}": COLOURS[status]
                for (side, region), status in region_statuses(assessment).items()}
    assert rects == expected
    assert rects["left-Knee"] == COLOURS["forbidden"]  # the DVT: the whole left leg
    assert rects["right-Thigh"] == COLOURS["forbidden"]  # the wound
    assert rects["right-Hip"] == COLOURS["requires-clearance"]  # the DVT on the other leg
    assert "LEFT LEG — no massage" in dom


def test_the_service_form_and_its_report_render(chromium: str, tmp_path: Path) -> None:
    """``kgmassage serve``'s page at ``/`` renders its form; the report it answers with renders
    with the same colours as the file the CLI writes."""
    import socket
    import threading
    import time
    import urllib.parse
    import urllib.request

    import uvicorn

    from kgmassage.service import create_app

    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    server = uvicorn.Server(uvicorn.Config(create_app(warm=False), host="127.0.0.1", port=port,
                                           log_level="warning"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    url = f"http://127.0.0.1:{port}/"
    try:
        for _ in range(300):
            if server.started:
                break
            time.sleep(0.1)
        common = [chromium, *FLAGS, f"--user-data-dir={tmp_path / 'profile'}"]
        form = subprocess.run([*common, "--dump-dom", url], capture_output=True, text=True,
                              timeout=120, check=True).stdout
        assert '<textarea id="record" name="record"' in form
        data = urllib.parse.urlencode({"record": json.dumps(RECORD), "at": AT}).encode()
        with urllib.request.urlopen(urllib.request.Request(url, data=data), timeout=60) as answer:
            report = answer.read().decode("utf-8")
    finally:
        server.should_exit = True
        thread.join(timeout=30)
    page = tmp_path / "report.html"
    page.write_text(report, encoding="utf-8")
    dom = subprocess.run([*common, "--dump-dom", page.as_uri()], capture_output=True,
                         text=True, timeout=120, check=True).stdout
    rects = dict(re.findall(r'<rect id="([a-z]+-[A-Za-z]+)"[^>]* fill="(#[0-9a-f]+)"', dom))
    assert rects["left-Knee"] == COLOURS["forbidden"]
    assert rects["right-Hip"] == COLOURS["requires-clearance"]

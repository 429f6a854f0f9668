#!/usr/bin/env python3
"""Screenshots of the three `nac ui` tabs with the shipped models -> reports/ui/*.png.

    python scripts/ui_screenshots.py        # needs .[ui], selenium, chromium + chromedriver
"""
import shutil
import socket
import sys
import tempfile
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import soundfile as sf  # noqa: E402
import uvicorn  # noqa: E402
from selenium import webdriver  # noqa: E402
from selenium.webdriver.common.by import By  # noqa: E402
from selenium.webdriver.support import expected_conditions as ec  # noqa: E402
from selenium.webdriver.support.ui import WebDriverWait  # noqa: E402

from nac.api import compress  # noqa: E402
from nac.io.thirdparty import encode_bytes  # noqa: E402
from nac.ui.server import create_app  # noqa: E402


def main() -> None:
    out = ROOT / "reports" / "ui"
    out.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp())
    x, sr = sf.read(ROOT / "data" / "samples" / "speech.wav", dtype="float32")
    x = x[: 6 * sr]
    sf.write(tmp / "speech.wav", x, sr)
    (tmp / "speech_6k.opus").write_bytes(encode_bytes(x, sr, "opus", 6)[0])
    (tmp / "speech.nac").write_bytes(compress(x[None], sr, 6))
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    server = uvicorn.Server(uvicorn.Config(create_app(), host="127.0.0.1", port=port, log_level="warning"))
    threading.Thread(target=server.run, daemon=True).start()
    while not server.started:
        time.sleep(0.05)
    options = webdriver.ChromeOptions()
    options.binary_location = shutil.which("chromium")
    for flag in ("--headless=new", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync", "--no-first-run", "--window-size=1200,1250"):
        options.add_argument(flag)
    driver = webdriver.Chrome(service=webdriver.ChromeService(shutil.which("chromedriver")), options=options)
    wait = WebDriverWait(driver, 180)

    def run_tab(tab: str, uploads: dict[str, Path], result: str) -> None:
        """Open `tab`, upload files into its named inputs, submit, wait for `result`, screenshot."""
        driver.find_element(By.CSS_SELECTOR, f"nav button[data-tab={tab}]").click()
        for name, path in uploads.items():
            driver.find_element(By.CSS_SELECTOR, f"#{tab}-form input[name={name}]").send_keys(str(path))
        driver.find_element(By.CSS_SELECTOR, f"#{tab}-form input[type=submit]").click()
        wait.until(ec.presence_of_element_located((By.CSS_SELECTOR, result)))
        time.sleep(1)  # let the spectrogram images paint
        driver.save_screenshot(str(out / f"{tab}.png"))

    try:
        driver.get(f"http://127.0.0.1:{port}/")
        run_tab("codec", {"file": tmp / "speech.wav"}, "#codec-out img")
        run_tab("restore", {"file": tmp / "speech_6k.opus", "reference": tmp / "speech.wav"}, "#restore-out img")
        run_tab("inspect", {"file": tmp / "speech.nac"}, "#inspect-out table")
    finally:
        driver.quit()
        server.should_exit = True
    print("screenshots in", out)


if __name__ == "__main__":
    main()

"""`nac ui`: the functions behind each tab, the HTTP API, and the page in a real headless browser."""
import io
import shutil
import socket
import threading
import time

import pytest
import soundfile as sf

from tests.conftest import tone

pytest.importorskip("fastapi")
from fastapi.testclient import TestClient  # noqa: E402

from nac.ui import actions, server  # noqa: E402


def wav(seconds=1.5, sr=16000) -> bytes:
    buf = io.BytesIO()
    sf.write(buf, tone(sr, seconds), sr, format="WAV")
    return buf.getvalue()


@pytest.fixture()
def tiny_default(monkeypatch, tiny_model_path, tiny_restorer_path):
    """Point the default codec and restorers at the tiny test models (the page has no model picker)."""
    import sys

    from nac import registry

    monkeypatch.setattr(registry, "DEFAULT_CODEC", tiny_model_path)
    monkeypatch.setattr(sys.modules["nac.api"], "DEFAULT_CODEC", tiny_model_path)
    monkeypatch.setitem(registry.DEFAULT_RESTORE, "speech", tiny_restorer_path)
    monkeypatch.setitem(registry.DEFAULT_RESTORE, "music", tiny_restorer_path)


def test_codec_tab_function(tiny_model_path):
    result = actions.codec_compare(wav(), "in.wav", 6.0, tiny_model_path)
    assert set(result.summary["items"]) == {"original", "nac", "opus"}
    assert 5 < result.summary["items"]["nac"]["file_kbps"] < 12  # real size, header included
    for name in ("original", "nac", "opus"):
        audio, sr = sf.read(io.BytesIO(result.files[f"{name}.wav"]))
        assert sr == 16000 and abs(len(audio) - 24000) <= 320
        assert result.files[f"{name}.png"][:4] == b"\x89PNG"
    assert result.files["encoded.nac"][:3] == b"NAC"


def test_restore_tab_function_with_reference(tiny_default):
    from nac.io.thirdparty import encode_bytes

    x = tone(16000, 2.0)
    opus, _ = encode_bytes(x, 16000, "opus", 6)
    result = actions.restore_upload(opus, "in.opus", wav(2.0), "ref.wav")
    assert result.summary["detected"]["codec"] == "opus" and "action:" in result.summary["explain"]
    assert set(result.summary["metrics"]) == {"before", "after"}
    assert result.files["restored.png"][:4] == b"\x89PNG"


def test_inspect_tab_function(tiny_model_path):
    data = actions.codec_compare(wav(), "in.wav", 3.0, tiny_model_path).files["encoded.nac"]
    info = actions.inspect_nac(data).summary
    assert info["integrity"] == "ok" and info["header_crc"] == "ok" and info["nominal_kbps"] == 3.0


def test_api_reports_bad_uploads_as_one_line(tiny_default):
    client = TestClient(server.create_app())
    assert "NAC" in client.get("/").text
    r = client.post("/api/codec", data={"kbps": "6"}, files={"file": ("x.wav", b"not audio at all", "audio/wav")})
    assert r.status_code == 400 and "\n" not in r.json()["error"] and "Traceback" not in r.text
    r = client.post("/api/inspect", files={"file": ("x.nac", b"NAC\x02garbage", "application/octet-stream")})
    assert r.status_code == 400 and "metadata length" in r.json()["error"]
    r = client.post("/api/codec", data={"kbps": "5"}, files={"file": ("x.wav", wav(), "audio/wav")})
    assert r.status_code == 400 and "bitrate" in r.json()["error"]
    r = client.post("/api/codec", data={"kbps": "6"}, files={"file": ("x.wav", wav(), "audio/wav")})
    assert r.status_code == 200, r.text
    j = r.json()
    assert client.get(j["files"]["nac.wav"]).headers["content-type"] == "audio/wav"
    assert client.get(f"/api/result/{j['id']}/nope.wav").status_code == 404


def test_upload_limit(tiny_default, monkeypatch):
    monkeypatch.setattr(server, "MAX_UPLOAD_MB", 0.01)
    r = TestClient(server.create_app()).post("/api/codec", data={"kbps": "6"},
                                             files={"file": ("x.wav", wav(2.0), "audio/wav")})
    assert r.status_code == 400 and "limit" in r.json()["error"]


def _browser():
    selenium = pytest.importorskip("selenium", reason="selenium not installed")
    del selenium
    from selenium import webdriver

    chromium = shutil.which("chromium") or shutil.which("chromium-browser")
    driver_path = shutil.which("chromedriver")
    if not chromium or not driver_path:
        pytest.skip("no chromium + chromedriver here (Debian: apt-get install chromium chromium-driver)")
    options = webdriver.ChromeOptions()
    options.binary_location = chromium
    for flag in ("--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
                 "--disable-background-networking", "--disable-component-update", "--disable-sync",
                 "--no-first-run", "--window-size=1200,1000"):
        options.add_argument(flag)
    return webdriver.Chrome(service=webdriver.ChromeService(executable_path=driver_path), options=options)


def test_codec_tab_in_a_real_browser(tmp_path, tiny_default):
    import uvicorn
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support import expected_conditions as ec
    from selenium.webdriver.support.ui import WebDriverWait

    driver = _browser()
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    uv = uvicorn.Server(uvicorn.Config(server.create_app(), host="127.0.0.1", port=port, log_level="warning"))
    thread = threading.Thread(target=uv.run, daemon=True)
    thread.start()
    try:
        for _ in range(100):
            if uv.started:
                break
            time.sleep(0.05)
        (tmp_path / "in.wav").write_bytes(wav(2.0))
        driver.get(f"http://127.0.0.1:{port}/")
        driver.find_element(By.CSS_SELECTOR, "#codec-form input[type=file]").send_keys(str(tmp_path / "in.wav"))
        driver.find_element(By.CSS_SELECTOR, "#codec-form input[type=submit]").click()
        WebDriverWait(driver, 60).until(ec.presence_of_element_located((By.CSS_SELECTOR, "#codec-out audio")))
        assert len(driver.find_elements(By.CSS_SELECTOR, "#codec-out audio")) == 3
        images = driver.find_elements(By.CSS_SELECTOR, "#codec-out img")
        WebDriverWait(driver, 30).until(lambda d: all(d.execute_script(
            "return arguments[0].complete && arguments[0].naturalWidth > 0", img) for img in images))
        assert "NAC 6" in driver.find_element(By.ID, "codec-out").text
        # a bad upload shows one clear line in the page
        (tmp_path / "bad.wav").write_bytes(b"not audio")
        driver.find_element(By.CSS_SELECTOR, "#codec-form input[type=file]").send_keys(str(tmp_path / "bad.wav"))
        driver.find_element(By.CSS_SELECTOR, "#codec-form input[type=submit]").click()
        WebDriverWait(driver, 30).until(ec.presence_of_element_located((By.CSS_SELECTOR, "#codec-status.error")))
        assert "Traceback" not in driver.find_element(By.ID, "codec-status").text
    finally:
        driver.quit()
        uv.should_exit = True
        thread.join(timeout=5)


def test_twenty_concurrent_codec_requests_complete_or_get_busy(monkeypatch):
    """Load: every request is answered, either with its result or a clear "busy" (503), never a
    500 or a hang; no more than one job runs at once."""
    import asyncio

    import httpx

    running, peak = [0], [0]

    def slow_job(data, filename, kbps, model, postfilter):
        running[0] += 1
        peak[0] = max(peak[0], running[0])
        time.sleep(0.05)
        running[0] -= 1
        return actions.Result({"seconds": 1.0})

    monkeypatch.setattr(actions, "codec_compare", slow_job)
    app = server.create_app()

    async def main():
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://test") as client:
            requests = [client.post("/api/codec", files={"file": ("a.wav", wav(0.5), "audio/wav")},
                                    data={"kbps": "6"}) for _ in range(20)]
            return await asyncio.gather(*requests)

    responses = asyncio.run(main())
    codes = sorted(r.status_code for r in responses)
    assert set(codes) <= {200, 503} and codes.count(200) >= 1 and peak[0] == 1
    assert all("busy" in r.json()["error"] for r in responses if r.status_code == 503)


def test_bad_upload_names_the_users_file_and_leaves_no_temporary_files(tmp_path, monkeypatch):
    import tempfile

    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path))
    client = TestClient(server.create_app())
    hostile = "../../etc/évil name\x07.wav"
    r = client.post("/api/codec", files={"file": (hostile, b"not audio at all", "audio/wav")}, data={"kbps": "6"})
    assert r.status_code == 400
    error = r.json()["error"]
    assert "évil name" in error and "etc" not in error and str(tmp_path) not in error and "nac-upload" not in error
    r = client.post("/api/restore", files={"file": ("x.mp3", b"\xff\xfb" + b"\x00" * 500, "audio/mpeg")})
    assert r.status_code == 400
    assert list(tmp_path.iterdir()) == []  # failed or not, nothing is left behind
    # the upload's name never reaches the file system: only a known suffix does
    seen = []
    real = tempfile.NamedTemporaryFile

    def spy(*args, **kwargs):
        seen.append((kwargs.get("prefix"), kwargs.get("suffix")))
        return real(*args, **kwargs)

    monkeypatch.setattr(tempfile, "NamedTemporaryFile", spy)
    client.post("/api/codec", files={"file": ("we;ird$(name).sh", wav(0.5), "audio/wav")}, data={"kbps": "6"})
    assert seen and all(p == "nac-upload-" and s == ".bin" for p, s in seen)
    assert list(tmp_path.iterdir()) == []

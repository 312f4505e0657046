"""The web demo in a real browser: Debian chromium driven by Playwright against the page served on 127.0.0.1.

Upload a synthetic voice, press the button, read the emotion the page shows and compare it with the engine's
own prediction of the same file; upload a corrupt file and see a one-line error, never a traceback. The page
must load nothing from outside this machine.
"""

from __future__ import annotations

import re
import shutil
import socket
from urllib.parse import urlparse

import pytest

from avemo.demo.web import build_app, launch_kwargs
from avemo.labels import label_set

CHROMIUM = shutil.which("chromium")
pytestmark = [pytest.mark.skipif(CHROMIUM is None, reason="Debian chromium is not installed (apt-get install "
                                 "chromium); the browser tests of the web demo need it"),
              # gradio's queue calls pandas in a way pandas 3 deprecates; not ours to fix
              pytest.mark.filterwarnings("ignore:'future.no_silent_downcasting' is deprecated"),
              pytest.mark.filterwarnings("ignore:The copy keyword is deprecated")]
TIMEOUT_MS = 20_000


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@pytest.fixture(scope="module")
def demo_url(demo_engine):
    app = build_app(demo_engine)
    _, url, _ = app.launch(prevent_thread_lock=True, quiet=True, **launch_kwargs("127.0.0.1", free_port()))
    yield url.rstrip("/")
    app.close()


@pytest.fixture(scope="module")
def fake_camera(talking_face, tmp_path_factory):
    """The talking-face clip as a Y4M file, which chromium plays as its (fake) webcam."""
    import av

    path = tmp_path_factory.mktemp("camera") / "talking_face.y4m"
    with av.open(str(talking_face)) as container, path.open("wb") as out:
        for k, frame in enumerate(container.decode(video=0)):
            planes = frame.to_ndarray(format="yuv420p")         # (height * 3 / 2, width): Y, then U and V
            if k == 0:
                out.write(f"YUV4MPEG2 W{frame.width} H{frame.height} F25:1 Ip A1:1 C420jpeg\n".encode())
            out.write(b"FRAME\n" + planes.tobytes())
    return path


@pytest.fixture(scope="module")
def browser(fake_camera):
    from playwright.sync_api import sync_playwright

    fake_devices = ["--use-fake-device-for-media-stream", "--use-fake-ui-for-media-stream",
                    f"--use-file-for-fake-video-capture={fake_camera}"]
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, headless=True, args=fake_devices)
        yield browser
        browser.close()


@pytest.fixture()
def page(browser, demo_url):
    """A fresh page of the demo; fails the test if the page asked for anything beyond 127.0.0.1."""
    page = browser.new_page(viewport={"width": 1400, "height": 1000}, permissions=["camera"])
    outside = []
    page.on("request", lambda request: outside.append(request.url)
            if urlparse(request.url).hostname not in (None, "127.0.0.1", "localhost")
            and urlparse(request.url).scheme in ("http", "https", "ws", "wss") else None)
    page.set_default_timeout(TIMEOUT_MS)
    page.goto(demo_url)
    page.locator("#avemo-analyse").wait_for()
    yield page
    page.close()
    assert outside == [], f"the demo page fetched from outside this machine: {outside}"


def analyse(page, path) -> None:
    """Upload ``path`` in the file tab (waiting until it has arrived), switch explanations off, press Analyse."""
    page.locator("#avemo-upload input[type=file]").set_input_files(str(path))
    page.locator(f'#avemo-upload td.filename[aria-label="{path.name}"]').wait_for()    # the upload has finished
    page.locator("#avemo-explain input[type=checkbox]").uncheck()
    page.locator("#avemo-analyse").click()


def test_upload_a_voice_and_read_the_emotion(page, demo_engine, media):
    from playwright.sync_api import expect

    analyse(page, media["voice"])
    status = page.locator("#avemo-status")
    expect(status).to_contain_text(media["voice"].name)
    shown = page.locator("#avemo-emotion [data-testid=label-output-value]")
    expect(shown).to_have_text(re.compile(r"\w+"))
    emotion = shown.inner_text().strip()
    expected = demo_engine.predict_file(media["voice"])
    assert emotion in label_set("ravdess8")
    assert emotion == expected.emotion
    assert page.locator("#avemo-speech [data-testid=label-output-value]").inner_text().strip() == emotion
    assert status.locator("h3").inner_text().startswith(f"{emotion} — ")
    expect(page.locator("#avemo-timeline img")).to_be_visible()            # the timeline picture arrived
    expect(page.locator("#avemo-circumplex img")).to_be_visible()
    expect(page.locator("#avemo-explain-note")).to_contain_text("Explanations are off")


def test_a_corrupt_file_shows_a_clear_error_and_no_traceback(page, media):
    from playwright.sync_api import expect

    analyse(page, media["corrupt"])
    status = page.locator("#avemo-status")
    expect(status).to_contain_text("Could not analyse")
    text = status.inner_text()
    assert "corrupt.wav: not a readable audio or video file" in text
    assert "Traceback" not in page.content()
    assert page.locator("#avemo-emotion [data-testid=label-output-value]").count() == 0


def test_live_webcam_labels_the_face_of_every_frame(page):
    from playwright.sync_api import expect

    page.get_by_role("tab", name="Live webcam").click()
    live = page.locator("#avemo-live")
    live.get_by_text("Click to Access Webcam").click()
    live.get_by_role("button", name="capture photo").click()           # starts streaming the fake camera
    expect(page.locator("#avemo-live-faces")).to_contain_text(re.compile(r"1 face — face \d+: \w+ \(\d+%\)"))
    shown = page.locator("#avemo-live-emotion [data-testid=label-output-value]")
    expect(shown).to_have_text(re.compile(r"\w+"))
    assert shown.inner_text().strip() in label_set("fer7")
    live.get_by_role("button", name="capture photo").click()           # stop

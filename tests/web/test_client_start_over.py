"""SfuMedia (liveclass.js) publishes the camera again after its connections broke, also when
the socket was down at the moment it tried: a server restart lets the camera's peer connection
fail (ICE) while the page is still reconnecting, so the first attempt cannot send its offer;
the welcome that follows must bring the camera back (it used to stay off for the whole class).

The "SFU" is a peer connection in the page and the signalling client a stand-in that is
connected or not as the test says, so each order of events is played exactly."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from tests.web.browser import chromium, open_page, server

SCRIPT = """async (mode) => {
    const lc = await import('/static/liveclass.js');
    const handlers = new Map();
    const offers = [];
    let connected = true;
    let answering = true;
    let offered = () => {};
    const sfu = (m) => handlers.get("signal")({ type: "signal", from: "sfu", ...m });
    const client = {
        on(type, fn) { handlers.set(type, fn); return () => handlers.delete(type); },
        send(m) { if (!connected) throw new lc.LiveclassError("disconnected", "not connected"); },
        async request(m) {
            this.send(m);
            offers.push(m);
            offered();
            const pc = new RTCPeerConnection();  // the SFU's side, answering at once
            await pc.setRemoteDescription({ type: "offer", sdp: m.sdp });
            await pc.setLocalDescription(await pc.createAnswer());
            const sdp = pc.localDescription.sdp;
            if (answering) setTimeout(() => sfu({ kind: "answer", offerId: m.offerId, sdp }));
            return { type: "ack" };
        },
    };
    // Until the n-th offer was sent (bounded: false after 10 s, well before an unanswered
    // offer's own timeout of 30).
    const nthOffer = (n) => new Promise((resolve) => {
        const timer = setTimeout(() => resolve(false), 10000);
        offered = () => { if (offers.length >= n) { clearTimeout(timer); resolve(true); } };
        offered();
    });
    const failures = [];
    const logged = console.error;
    console.error = (...args) => { failures.push(String(args[0])); logged(...args); };
    const media = new lc.SfuMedia(client);
    const camera = await navigator.mediaDevices.getUserMedia({ video: true, audio: true });
    await media.publish(camera);
    const first = media.pub;

    if (mode === "unsent") {
        // The connection broke while the socket is down: the republish cannot be sent.
        connected = false;
        sfu({ kind: "restart", reason: "worker_lost" });
        while (!failures.length) await new Promise((r) => setTimeout(r, 20));
    } else {
        // The republish's offer went out, and the server that had it went down.
        answering = false;
        sfu({ kind: "restart", reason: "worker_lost" });
        await nthOffer(2);
        answering = true;
    }
    // The page is back: a new welcome (not a resume).
    connected = true;
    handlers.get("welcome")({ type: "welcome", resumed: false });
    const again = await nthOffer(mode === "unsent" ? 2 : 3);
    while (again && !(media.pub && media.pub.signalingState === "stable")) {
        await new Promise((r) => setTimeout(r, 20));
    }
    const result = {
        again,
        offers: offers.length,
        sameStream: media.pubs.get("camera")?.stream === camera,
        newConnection: media.pub !== null && media.pub !== first,
        failures: failures.filter((f) => f.includes("republishing")).length,
    };
    console.error = logged;
    media.close();
    for (const track of camera.getTracks()) track.stop();
    return result;
}"""


@pytest.mark.parametrize("mode", ["unsent", "unanswered"])
async def test_the_camera_comes_back_with_the_welcome_after_a_republish_that_failed(
    tmp_path: Path, mode: str
) -> None:
    """``unsent``: the republish found the socket down; ``unanswered``: its offer went to a
    server that then went down, and the welcome comes while it still waits for the answer
    (30 s): it must not wait, but start over at once."""
    async with server(tmp_path) as node, chromium() as browser:
        _, page = await open_page(browser, node)
        await page.goto("/signin.html")
        result: dict[str, Any] = await page.evaluate(SCRIPT, mode)
    assert result["again"], result
    assert result["sameStream"], result
    assert result["newConnection"], result
    # the first, the lost one (unanswered), and the one after the welcome
    assert result["offers"] == (2 if mode == "unsent" else 3), result
    assert result["failures"] == (1 if mode == "unsent" else 0), result

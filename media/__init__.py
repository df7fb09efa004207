"""The media plane: an SFU on aiortc that forwards encoded media without decoding it.

Data flow for one room (:class:`media.router.Router`)::

    publisher's RTCPeerConnection ─ RTCRtpReceiver (jitter buffer reassembles frames)
        └─ FrameTap (replaces the decoder queue)          media/aiortc_hooks.py
             └─ TrackFanout (keyframe detection, PLI)     media/forwarding.py
                  ├─ ForwardedTrack (bounded queue, hold until keyframe) ─ RTCRtpSender
                  │     (PacketOnlyEncoder: packetize only) ─ subscriber's RTCPeerConnection
                  └─ ...one per subscriber

Modules: ``router`` (the API a worker drives), ``publisher`` / ``subscriber`` (the two kinds
of peer connection), ``forwarding`` (fan-out and per-subscriber queues), ``keyframes``
(throttled PLI), ``bitstream`` (keyframe detection), ``sdp`` (codec pinning, bitrate caps,
ICE candidates), ``aiortc_hooks`` (every private aiortc internal used), ``tasks`` (task
ownership), ``config``, ``errors``.

``media`` imports ``rooms`` and libraries only, never ``api`` or ``signaling``.
"""

from media.config import RouterConfig
from media.errors import MediaError
from media.router import Router

__all__ = ["MediaError", "Router", "RouterConfig"]

"""The media plane: an SFU on aiortc that forwards encoded media without decoding it.

Data flow for one room (:class:`media.router.Router`)::

    publisher's RTCPeerConnection ─ RTCRtpReceiver
        └─ tap_rtp / FrameTap (every packet; frames for the recorder)   media/aiortc_receiver.py
             └─ TrackFanout (layers, keyframe detection, PLI)             media/fanout.py
                  ├─ ForwardedTrack (rewrites, holds until keyframe)      media/forwarding.py
                  │     └─ RtpOutlet ─ RTCRtpSender ─ subscriber's      media/aiortc_outlet.py
                  │          RTCPeerConnection
                  └─ ...one per subscriber

Modules: ``router`` (the API a worker drives), ``publisher`` / ``subscriber`` (the two kinds
of peer connection), ``fanout`` (one published track to its subscribers), ``forwarding``
(one subscriber's m-line), ``rtp_forwarding`` (rewriting), ``layers`` and ``probing``
(adaptive quality), ``keyframes`` (throttled PLI), ``bitstream`` (keyframe detection),
``sdp`` (codec pinning, bitrate caps, ICE candidates), ``aiortc_hooks``,
``aiortc_receiver`` and ``aiortc_outlet`` (every private aiortc internal used), ``tasks``
(task ownership), ``config``, ``errors``.

``media`` imports ``rooms`` and libraries only, never ``api`` or ``signaling``.
"""

from media.config import RouterConfig
from media.errors import MediaError
from media.router import Router

__all__ = ["MediaError", "Router", "RouterConfig"]

"""Looking inside encoded frames: is this one a keyframe?

A forwarder cannot start a subscriber on a delta frame (the decoder has no reference picture),
so every frame is classified on its way in. The data is what aiortc's depayloaders reassemble:
a whole VP8 frame, or H.264 NAL units in Annex B form (``00 00 00 01`` start codes).
"""

from __future__ import annotations

__all__ = ["is_keyframe"]

_VP8_START_CODE = b"\x9d\x01\x2a"
_H264_IDR = 5


def is_keyframe(mime_type: str, data: bytes) -> bool:
    """Whether a decoder can start on this frame.

    VP8: the frame tag's P bit is 0 and the keyframe start code follows (RFC 6386 9.1).
    H.264: the access unit holds an IDR slice. Audio frames (Opus) always decode on their own.
    Unknown video codecs are never keyframes, so a subscriber is held rather than fed garbage.
    """
    mime = mime_type.lower()
    if mime == "video/vp8":
        return len(data) >= 10 and data[0] & 0x01 == 0 and data[3:6] == _VP8_START_CODE
    if mime == "video/h264":
        return _H264_IDR in _h264_nal_types(data)
    return not mime.startswith("video/")


def _h264_nal_types(data: bytes) -> set[int]:
    types: set[int] = set()
    pos = data.find(b"\x00\x00\x01")
    while pos != -1 and pos + 3 < len(data):
        types.add(data[pos + 3] & 0x1F)
        pos = data.find(b"\x00\x00\x01", pos + 3)
    return types

"""Recognizing recording files by their first bytes, not by what the uploader claims."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import PurePosixPath

from rooms.untrusted import readable

__all__ = ["SNIFF_BYTES", "MediaType", "download_name", "sniff"]

#: How many leading bytes :func:`sniff` needs.
SNIFF_BYTES = 16


#: ISO base media brands of still images (HEIF/HEIC, AVIF) and camera raw files: same box
#: structure as MP4, but not recordings.
_IMAGE_BRANDS = frozenset(
    {
        b"heic",
        b"heix",
        b"heim",
        b"heis",
        b"hevc",
        b"hevx",
        b"mif1",
        b"msf1",
        b"avif",
        b"avis",
        b"crx ",
    }
)


@dataclass(frozen=True, slots=True)
class MediaType:
    content_type: str
    extension: str


def sniff(head: bytes) -> MediaType | None:
    """The media type of a file starting with ``head``, or None if it is not a recording
    format liveclass stores (WebM/Matroska, MP4/MOV/M4A, Ogg, MP3, WAV)."""
    if head.startswith(b"\x1a\x45\xdf\xa3"):
        return MediaType("video/webm", ".webm")
    if head[4:8] == b"ftyp":
        brand = head[8:12]
        if len(brand) < 4 or brand in _IMAGE_BRANDS:
            return None
        if brand == b"M4A ":
            return MediaType("audio/mp4", ".m4a")
        if brand == b"qt  ":
            return MediaType("video/quicktime", ".mov")
        return MediaType("video/mp4", ".mp4")
    if head.startswith(b"OggS"):
        return MediaType("audio/ogg", ".ogg")
    if head.startswith(b"ID3") or head[:2] in (b"\xff\xfb", b"\xff\xf3", b"\xff\xf2"):
        return MediaType("audio/mpeg", ".mp3")
    if head.startswith(b"RIFF") and head[8:12] == b"WAVE":
        return MediaType("audio/wav", ".wav")
    return None


_EXTENSIONS = {
    "video/webm": ".webm",
    "video/mp4": ".mp4",
    "audio/mp4": ".m4a",
    "video/quicktime": ".mov",
    "audio/ogg": ".ogg",
    "audio/mpeg": ".mp3",
    "audio/wav": ".wav",
}


def download_name(name: str | None, content_type: str | None) -> str:
    """The file name a recording is stored and downloaded under: the uploader's name without
    its folders, control and reserved characters, and with the extension of what the file
    really is (``evil.html`` holding WebM is ``evil.webm``); ``recording.<ext>`` without one.
    A name is only a label: files are stored under generated names."""
    base = readable((name or "").replace("\\", "/")).rsplit("/", 1)[-1]
    cleaned = "".join(ch for ch in base if ch.isprintable() and ch not in '"<>|:*?;')
    stem = PurePosixPath(cleaned).stem.strip(" .") if cleaned else ""
    return f"{stem[:200] or 'recording'}{_EXTENSIONS.get(content_type or '', '.bin')}"

"""Recognizing recording files by their first bytes."""

from __future__ import annotations

import pytest

from rooms.media_types import SNIFF_BYTES, MediaType, sniff


def _ftyp(brand: bytes) -> bytes:
    return b"\x00\x00\x00\x20ftyp" + brand + b"\x00\x00\x02\x00isomiso2"


@pytest.mark.parametrize(
    ("head", "content_type", "extension"),
    [
        (
            b"\x1a\x45\xdf\xa3\x9f\x42\x86\x81\x01\x42\xf7\x81\x01\x42\xf2\x81",
            "video/webm",
            ".webm",
        ),
        (_ftyp(b"isom"), "video/mp4", ".mp4"),
        (_ftyp(b"mp42"), "video/mp4", ".mp4"),
        (_ftyp(b"M4V "), "video/mp4", ".mp4"),
        (_ftyp(b"M4A "), "audio/mp4", ".m4a"),
        (_ftyp(b"qt  "), "video/quicktime", ".mov"),
        (b"OggS\x00\x02" + b"\x00" * 10, "audio/ogg", ".ogg"),
        (b"ID3\x04\x00\x00\x00\x00\x00\x00" + b"\x00" * 6, "audio/mpeg", ".mp3"),
        (b"\xff\xfb\x90\x64" + b"\x00" * 12, "audio/mpeg", ".mp3"),
        (b"\xff\xf3\x48\xc4" + b"\x00" * 12, "audio/mpeg", ".mp3"),
        (b"\xff\xf2\x48\xc4" + b"\x00" * 12, "audio/mpeg", ".mp3"),
        (b"RIFF\x24\x08\x00\x00WAVEfmt ", "audio/wav", ".wav"),
    ],
)
def test_recording_formats_are_recognized(head: bytes, content_type: str, extension: str) -> None:
    assert len(head) >= SNIFF_BYTES
    assert sniff(head[:SNIFF_BYTES]) == MediaType(content_type, extension)


@pytest.mark.parametrize(
    "head",
    [
        b"",
        b"\x1a\x45\xdf",  # a WebM magic cut short
        b"hello, world! this is text",
        b"<!doctype html><html>",
        b"%PDF-1.7\n%\xe2\xe3\xcf\xd3",
        b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR",
        b"\xff\xd8\xff\xe0\x00\x10JFIF\x00",  # JPEG
        b"GIF89a\x01\x00\x01\x00",
        b"PK\x03\x04\x14\x00\x00\x00",  # zip
        b"MZ\x90\x00\x03\x00\x00\x00",  # a Windows executable
        b"\x7fELF\x02\x01\x01\x00",
        b"RIFF\x24\x08\x00\x00AVI LIST",  # RIFF, but a video container liveclass does not store
        b"RIFF\x24\x08\x00\x00WEBPVP8 ",  # RIFF, but an image
        _ftyp(b"heic"),  # ISO base media, but a HEIF photo
        _ftyp(b"mif1"),
        _ftyp(b"avif"),  # ISO base media, but an AVIF image
        b"\x00\x00\x00\x20ftyp",  # ftyp without a brand
    ],
)
def test_everything_else_is_refused(head: bytes) -> None:
    assert sniff(head[:SNIFF_BYTES]) is None


def test_only_the_first_bytes_matter() -> None:
    webm = b"\x1a\x45\xdf\xa3" + b"\x00" * 12
    assert sniff(webm + b"<script>alert(1)</script>" * 100) == MediaType("video/webm", ".webm")
    assert sniff(b"<script>" + webm) is None

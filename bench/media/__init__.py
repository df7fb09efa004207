"""The media bench: one publisher, N subscribers as real aiortc peers, the SFU measured."""

"""The room hub: the WebSocket protocol (sans-I/O) and the per-node hub that relays it.

``signaling`` imports ``rooms`` and nothing of ``api`` or ``media``.
"""

"""The liveclass domain: sessions, enrollment, attendance, chat, recordings, presence.

``rooms`` imports none of ``api``, ``signaling`` or ``media``. It owns the durable store
(SQLAlchemy), every Redis key and Lua script, room tokens and grants, and the typed error tree
that the outer layers map to HTTP statuses and WebSocket close codes.
"""

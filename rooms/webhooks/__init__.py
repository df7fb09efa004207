"""Webhooks: signed HTTP callbacks to each tenant's endpoints, from a durable outbox.

- :mod:`~rooms.webhooks.events`: the event types and their ``data``;
- :mod:`~rooms.webhooks.outbox`: :func:`enqueue`, called inside the transaction of a change;
- :mod:`~rooms.webhooks.signing`: the ``Liveclass-Signature`` scheme and its verification;
- :mod:`~rooms.webhooks.backoff`: the retry schedule;
- :mod:`~rooms.webhooks.queue`: claiming (leases, ``SKIP LOCKED``) and settling deliveries;
- :mod:`~rooms.webhooks.dispatcher`: the background sender;
- :mod:`~rooms.webhooks.admin`: endpoint configuration and the delivery log.
"""

from rooms.webhooks.events import EventType
from rooms.webhooks.outbox import enqueue, recording_changed

__all__ = ["EventType", "enqueue", "recording_changed"]

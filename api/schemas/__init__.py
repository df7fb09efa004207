"""Response bodies of the REST API, one module per topic as in ``api/routes`` (request bodies
are the domain inputs in :mod:`rooms.inputs`; the few REST-only ones live beside their
responses here)."""

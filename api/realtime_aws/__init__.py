"""Subscriptions on AWS: the graphql-transport-ws protocol over an API Gateway WebSocket API,
and the DynamoDB Stream consumer that delivers committed file changes to subscribers.

- ``websocket.py``: ``$connect``, ``$disconnect`` and ``$default`` (every protocol message);
- ``stream.py``: stream records -> file events -> subscribers (by key) -> PostToConnection;
- ``execution.py``: a stored subscription run through the schema for one event, so access
  and ``File`` resolve exactly as on the local server and for queries;
- ``handler.py``: the two Lambda entry points; ``runtime.py``: what both share, built by
  the composition root (api/bootstrap.py ``build_realtime``).
"""

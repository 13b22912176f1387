"""HTTP/1.1 on a socket: the wire format, reading requests, one connection, the server.

Data flows one way through it: ``server`` accepts, ``protocol`` runs a connection,
``reader`` turns its bytes into ``Request`` objects, the application answers, and
``sender`` writes the answers. ``wire`` is HTTP/1.1 without a connection.
"""

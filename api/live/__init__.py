"""Live delivery of the history log to subscribers: one Redis connection (the hub) and
one reader per log (the feeds) per API process, whatever the number of subscribers."""

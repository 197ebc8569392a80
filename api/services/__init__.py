"""Domain services: one module per domain. A service owns its transaction; nothing else commits."""

"""What tests share: people to act as, waiting for what the worker does by itself, a local
HTTP server for the `http` action, and the GraphQL operations several files send."""

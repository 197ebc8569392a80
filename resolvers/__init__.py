"""Thin resolvers: authorize, call one service, return a schema type."""

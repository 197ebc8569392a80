"""Moved to tests.kit.instances; these names stay importable from here for older imports."""

from tests.kit.instances import FIELDS, LIVE, READ, live, read, until

__all__ = ["FIELDS", "LIVE", "READ", "live", "read", "until"]

"""Replication between tiers: envelopes, verification, the batch protocol, key files."""

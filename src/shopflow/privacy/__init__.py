"""A customer's personal data on request (RSK-3): exported in full, or erased."""

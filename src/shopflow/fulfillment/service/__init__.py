"""Fulfillment use cases, one module per step: carriers, waves, packing, shipping, tracking, reports."""

"""Fulfillment's tables, states and rules, one module per aggregate: picking, carriers, shipments,
freight."""

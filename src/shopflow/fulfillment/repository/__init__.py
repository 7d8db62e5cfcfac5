"""Every query of the fulfillment domain, one module per aggregate: picking, carriers, shipments,
freight."""

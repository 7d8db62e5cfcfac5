"""Import of a store's real order history (ORD-1, issue 15 item 6): parsers of Olist's dataset,
Shopify's and WooCommerce's order exports and Shopflow's own CSV layout (`olist`, `platforms`),
each yielding `records.HistoricalOrder`s and the rows it rejects with their line numbers; and the
history writer (`writer.write`) storing a batch of them as finished orders that nothing treats as
live work."""

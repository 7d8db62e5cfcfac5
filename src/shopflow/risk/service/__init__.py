"""Risk use cases (RSK-1, RSK-2), a module each: scoring a new order (`scoring`), the rules'
versions (`rulebook`), the review queue and its decisions (`reviews`), the blocklists (`blocklist`)."""

"""Analytics and monitoring (ANA-1..5): alerts, SLA clocks of a subject."""

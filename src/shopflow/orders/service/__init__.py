"""Order use cases, a module each: intake, lifecycle, the steps fulfillment drives, queries."""

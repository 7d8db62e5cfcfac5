"""Members and marketing (issue 16): coupons (LOY-4) so far."""

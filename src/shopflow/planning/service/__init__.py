"""Planning's use cases, split by subject: safety stock (`safety`), forecasts (`forecasts`),
suppliers and purchase orders (`purchasing`), replenishment suggestions and shortages
(`replenishment`)."""

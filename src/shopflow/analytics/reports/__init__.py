"""The reports (ANA-4): a day's, an ISO week's or a month's picture from the metric dictionary
(`analytics.summary`), as CSV, XLSX with native charts, standalone HTML with ECharts inlined, or
JSON; and the email the worker sends of each period that has ended."""

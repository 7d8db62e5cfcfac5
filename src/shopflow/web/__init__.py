"""The web console's templates, static assets (vendored with their licences), message catalogs,
and the home page that gathers every domain's figures."""

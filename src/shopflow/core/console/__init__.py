"""The web console's shared machinery: i18n, session and CSRF, the page, forms and paging, rendering,
and the registry of every domain's pages."""

"""County HTTP layer: routes, pages and the JSON API; handlers stay thin."""

"""Node HTTP layer: clerk pages, kiosk pages and the JSON API; handlers stay thin."""

"""The Studio's pages, one module per area. Only `studio.urls` imports them."""

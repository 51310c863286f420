"""Public download route for export tokens."""

urlpatterns: list = []

"""Public routes: widget.js and the demo page (mounted under /public/)."""

urlpatterns: list = []

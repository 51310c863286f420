"""Public routes: widget.js and the demo page (mounted under /public/)."""

from django.urls import path

from embed import views

urlpatterns = [
    path("widget.js", views.widget_js, name="embed-widget-js"),
    path("demo", views.demo, name="embed-demo"),
]

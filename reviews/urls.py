"""URLs of the reviews application; case pages carry the case number, never the primary key."""

from django.urls import path

from .views import home

app_name = "reviews"

urlpatterns = [
    path("", home.home, name="home"),
]

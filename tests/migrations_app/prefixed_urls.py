"""The whole site mounted under /ops/: pages whose links come from the URL map follow it there."""

from django.urls import include, path

urlpatterns = [path("ops/", include("config.urls"))]

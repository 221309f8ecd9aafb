"""Routes of the teams area."""

from django.urls import path

from dashboard.teams import views

urlpatterns = [
    path("teams/", views.team_list, name="team_list"),
    path("teams/<slug:slug>/", views.team_detail, name="team_detail"),
    path("teams/<slug:slug>/members/add/", views.member_add, name="member_add"),
    path("teams/<slug:slug>/members/<int:member_id>/role/", views.member_role, name="member_role"),
    path("teams/<slug:slug>/members/<int:member_id>/remove/", views.member_remove, name="member_remove"),
]

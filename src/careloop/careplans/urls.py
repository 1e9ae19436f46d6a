from django.urls import path

from careloop.careplans import views

urlpatterns = [
    path("careplans/new/<int:patient_id>/", views.create, name="careplan-create"),
    path("careplans/<int:plan_id>/", views.plan_view, name="careplan-view"),
    path("careplans/<int:plan_id>/edit/", views.edit, name="careplan-edit"),
    path("careplans/<int:plan_id>/templates/", views.add_template, name="careplan-add-template"),
    path("careplans/<int:plan_id>/comments/", views.comment, name="careplan-comment"),
    path("careplans/<int:plan_id>/history/", views.history, name="careplan-history"),
]

from django.urls import path

from careloop.transitions import views

urlpatterns = [
    path("transitions/", views.board, name="transitions-board"),
    path("transitions/episodes/<int:episode_id>/", views.episode_page, name="transitions-episode"),
    path("transitions/episodes/<int:episode_id>/checklist/", views.checklist, name="transitions-checklist"),
    path("transitions/episodes/<int:episode_id>/medrec/", views.complete_medrec, name="transitions-medrec"),
    path("transitions/patients/<int:patient_id>/panel/", views.chart_panel, name="transitions-panel"),
]

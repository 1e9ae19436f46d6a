from django.urls import path

from careloop.transitions import views, views_review

urlpatterns = [
    path("transitions/", views.board, name="transitions-board"),
    path("transitions/episodes/<int:episode_id>/", views.episode_page, name="transitions-episode"),
    path("transitions/episodes/<int:episode_id>/checklist/", views.checklist, name="transitions-checklist"),
    path("transitions/episodes/<int:episode_id>/medrec/", views.complete_medrec, name="transitions-medrec"),
    path("transitions/patients/<int:patient_id>/panel/", views.chart_panel, name="transitions-panel"),
    path("transitions/match-reviews/", views_review.review_list, name="transitions-match-reviews"),
    path("transitions/match-reviews/<int:review_id>/", views_review.review_decide, name="transitions-match-review"),
]

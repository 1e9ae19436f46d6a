from django.urls import path

from careloop.quality import views

urlpatterns = [
    path("quality/", views.dashboard, name="quality-dashboard"),
    path("quality/gaps/", views.gap_list, name="quality-gaps"),
    path("quality/clinicians/", views.clinician_dashboard, name="quality-clinicians"),
    path("quality/clinicians/<int:clinician_id>/gaps/", views.clinician_gap_list, name="quality-clinician-gaps"),
    path("quality/gaps/tasks/", views.gap_tasks, name="quality-gap-tasks"),
    path("quality/patients/<int:patient_id>/panel/", views.panel, name="quality-panel"),
    path("quality/patients/<int:patient_id>/gaps/<int:gap_id>/task/", views.gap_task, name="quality-gap-task"),
]

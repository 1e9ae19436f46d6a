from django.urls import path

from careloop.worklist.views import panel, queue

urlpatterns = [
    path("queue/", queue.my_queue, name="worklist-queue"),
    path("queue/bulk/", queue.bulk, name="worklist-bulk"),
    path("queue/tasks/<int:task_id>/", queue.task_page, name="worklist-task"),
    path("team/", queue.team, name="worklist-team"),
    path("notifications/", queue.notifications, name="worklist-notifications"),
    path("worklist/patients/<int:patient_id>/panel/", panel.panel, name="worklist-panel"),
    path("worklist/patients/<int:patient_id>/panel/<slug:action>/", panel.panel_action, name="worklist-panel-action"),
]

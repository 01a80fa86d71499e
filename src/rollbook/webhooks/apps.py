from django.apps import AppConfig


class WebhooksConfig(AppConfig):
    name = "rollbook.webhooks"
    label = "webhooks"
    verbose_name = "Webhooks"

    def ready(self) -> None:
        from rollbook.audit import api as audit
        from rollbook.jobs import api as jobs
        from rollbook.webhooks import dispatcher

        jobs.register_task(dispatcher.DELIVER_TASK, dispatcher.deliver_all)
        audit.on_events_numbered(dispatcher.on_events_numbered)

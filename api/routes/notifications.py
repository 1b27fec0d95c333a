"""/api/v1/webhooks, /api/v1/notification-settings and /api/v1/exports/{id}/resume: an account's
notifications (docs/notifications.md). Admins manage, viewers read, other accounts' ids answer 404."""

from fastapi import APIRouter, Depends, Response

from api.auth import admin_user, current_user
from api.context import Context, context
from api.notification_schemas import Delivery, NotificationSettings, Webhook, WebhookIn
from api.schemas import Export, Text
from control.auto_pause import resume_export
from control.exports import public_export
from control.notifications import events, outbox, preferences
from control.notifications import webhooks as service

__all__ = ["router"]

router = APIRouter(tags=["notifications"])


@router.get("/webhooks", response_model=list[Webhook], summary="The account's webhooks (never their secrets)")
def list_webhooks(user: dict = Depends(current_user), ctx: Context = Depends(context)):
    return [service.public_webhook(row) for row in service.list_webhooks(ctx.engine, user["account_id"])]


@router.post("/webhooks", response_model=Webhook, status_code=201, summary="Add a webhook")
def add_webhook(body: WebhookIn, user: dict = Depends(admin_user), ctx: Context = Depends(context)):
    return service.public_webhook(service.add_webhook(ctx.engine, ctx.vault, user["account_id"], **body.model_dump()))


@router.get("/webhooks/{webhook_id}", response_model=Webhook, summary="One webhook")
def show_webhook(webhook_id: int, user: dict = Depends(current_user), ctx: Context = Depends(context)):
    return service.public_webhook(service.get_webhook(ctx.engine, webhook_id, user["account_id"]))


@router.delete("/webhooks/{webhook_id}", status_code=204, response_class=Response,
               summary="Remove a webhook and its delivery log")
def remove_webhook(webhook_id: int, user: dict = Depends(admin_user), ctx: Context = Depends(context)):
    service.remove_webhook(ctx.engine, webhook_id, user["account_id"])
    return Response(status_code=204)


@router.post("/webhooks/{webhook_id}/test", response_model=Delivery,
             summary="Send a webhook.test delivery now; its first attempt's answer")
def test_webhook(webhook_id: int, user: dict = Depends(admin_user), ctx: Context = Depends(context)):
    return outbox.public_delivery(events.send_test(ctx.engine, ctx.settings, ctx.vault, webhook_id,
                                                   user["account_id"]))


@router.get("/webhooks/{webhook_id}/deliveries", response_model=list[Delivery],
            summary="The webhook's latest deliveries, newest first, with each one's answer and attempts")
def list_deliveries(webhook_id: int, user: dict = Depends(current_user), ctx: Context = Depends(context)):
    service.get_webhook(ctx.engine, webhook_id, user["account_id"])
    return [outbox.public_delivery(row) for row in outbox.recent_deliveries(ctx.engine, user["account_id"],
                                                                            webhook_id)]


@router.get("/notification-settings", response_model=NotificationSettings,
            summary="Who gets the account's mail, and after how many failures a recurring export is paused")
def show_settings(user: dict = Depends(current_user), ctx: Context = Depends(context)):
    with ctx.engine.connect() as connection:
        return preferences.get_preferences(connection, user["account_id"])


@router.put("/notification-settings", response_model=NotificationSettings, summary="Change them")
def change_settings(body: NotificationSettings, user: dict = Depends(admin_user), ctx: Context = Depends(context)):
    return preferences.set_preferences(ctx.engine, user["account_id"], **body.model_dump())


@router.post("/exports/{request_id}/resume", response_model=Export, tags=["exports"],
             summary="Resume a paused export: it continues from the first window not yet Done")
def resume(request_id: Text, user: dict = Depends(admin_user), ctx: Context = Depends(context)):
    return public_export(resume_export(ctx.engine, request_id, user["account_id"]))

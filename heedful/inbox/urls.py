from django.urls import path

from heedful.inbox import hooks, order_views, views, widget

app_name = "inbox"
urlpatterns = [
    path("", views.inbox_list, name="list"),
    path("bulk/", views.bulk, name="bulk"),
    path("<int:pk>/", views.conversation_detail, name="conversation"),
    path("<int:pk>/messages/", views.conversation_messages, name="messages"),
    path("<int:pk>/suggestions/", views.conversation_suggestions, name="suggestions"),
    path("<int:pk>/reply/", views.reply, name="reply"),
    path("<int:pk>/note/", views.note, name="note"),
    path("<int:pk>/hand-back/", views.hand_back, name="hand-back"),
    path("<int:pk>/take-over/", views.take, name="take-over"),
    path("<int:pk>/messages/<int:message_pk>/wrong-answer/", views.wrong_answer, name="wrong-answer"),
    path("<int:pk>/resolve/", views.resolve, name="resolve"),
    path("<int:pk>/assign/", views.assign, name="assign"),
    path("<int:pk>/tag/", views.tag, name="tag"),
    path("notices/", views.sla_notices, name="notices"),
    path("notices/<int:pk>/dismiss/", views.dismiss_notice, name="dismiss-notice"),
    path("<int:pk>/canned/", views.canned_insert, name="canned-insert"),
    path("canned/", views.canned_list, name="canned-list"),
    path("canned/new/", views.canned_new, name="canned-new"),
    path("canned/preview/", views.canned_preview, name="canned-preview"),
    path("canned/<int:pk>/edit/", views.canned_edit, name="canned-edit"),
    path("canned/<int:pk>/delete/", views.canned_delete, name="canned-delete"),
    path("report/", views.report, name="report"),
    path("csat/<str:token>/", views.csat_page, name="csat"),
    path("csat/<str:token>/<int:rating>/", views.csat_page, name="csat-rate"),
    path("widget-demo/", widget.demo, name="widget-demo"),
    path("contact/", widget.contact_form, name="contact-form"),
    path("widget/api/session", widget.session, name="widget-session"),
    path("widget/api/messages", widget.messages, name="widget-messages"),
    path("widget/api/feedback", widget.feedback, name="widget-feedback"),
    path("shop/webhook", hooks.shop_webhook, name="shop-webhook"),
    path("orders/", order_views.orders_list, name="orders"),
    path("orders/<int:pk>/status/", order_views.set_order_status, name="order-status"),
]

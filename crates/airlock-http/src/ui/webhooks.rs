//! `/ui/webhooks`: the webhook subscriptions the user manages, a form to
//! create one (its secret shown once, like a robot token), delete and
//! "send test event", and each subscription's delivery log with a
//! redeliver button per event.
//!
//! Everything goes through the [`Accounts`](airlock_accounts::Accounts)
//! webhook operations, as the API's do, so the URL checks (SSRF rules),
//! the authorization and the audit records are the service's. A refused
//! or invalid form is shown again with the reason next to it.

use airlock_accounts::{AccountsError, DeliveryView, NewWebhook, WebhookView};
use airlock_auth::{ManageAction, manage_allows};
use airlock_webhook::EVENT_TYPES;
use askama::Template;
use axum::Form;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::Response;
use serde::Deserialize;

use super::images::Choice;
use super::{
    Chrome, FormFields, UiSession, done, error_page, error_status, form_error, render, show_time,
};
use crate::AppState;

/// How many deliveries the log shows.
const LOG_SIZE: usize = 100;

/// The `done=` code of a redirect after an action.
#[derive(Debug, Default, Deserialize)]
pub(crate) struct DoneQuery {
    #[serde(default)]
    done: String,
}

impl DoneQuery {
    fn message(&self) -> Option<&'static str> {
        match self.done.as_str() {
            "deleted" => Some("The subscription was deleted."),
            "tested" => Some("A test event was queued for delivery."),
            "redelivered" => Some("The event was queued for delivery again."),
            _ => None,
        }
    }
}

/// One subscription as listed.
struct Row {
    id: String,
    tenant: String,
    url: String,
    events: String,
    description: String,
    created: String,
    created_by: String,
}

impl From<WebhookView> for Row {
    fn from(w: WebhookView) -> Row {
        Row {
            tenant: w.tenant.unwrap_or_else(|| "all tenants".into()),
            events: if w.events.is_empty() {
                "all events".into()
            } else {
                w.events.join(", ")
            },
            created: show_time(w.created_at),
            id: w.id,
            url: w.url,
            description: w.description,
            created_by: w.created_by,
        }
    }
}

/// What the create form shows (again, after a failure).
#[derive(Default)]
struct CreateForm {
    tenant: String,
    url: String,
    events: Vec<String>,
    description: String,
    error: Option<String>,
}

#[derive(Template)]
#[template(path = "webhooks.html")]
struct WebhooksPage {
    chrome: Chrome,
    notice: Option<&'static str>,
    rows: Vec<Row>,
    tenants: Vec<Choice>,
    events: Vec<Choice>,
    form: CreateForm,
    /// The subscription just created and its secret, shown this once.
    created: Option<(String, String)>,
}

/// The page with `form` in the create form.
async fn page(
    state: &AppState,
    session: &UiSession,
    status: StatusCode,
    notice: Option<&'static str>,
    form: CreateForm,
    created: Option<(String, String)>,
) -> Response {
    let chrome = Chrome::of(session, "/ui/webhooks");
    let webhooks = match state.accounts.visible_webhooks(&session.operator).await {
        Ok(webhooks) => webhooks,
        Err(error) => return error_page(&chrome, &error),
    };
    let tenants = match state.accounts.tenants(&session.operator).await {
        Ok(tenants) => tenants,
        Err(error) => return error_page(&chrome, &error),
    };
    let mut tenant_options: Vec<Choice> = tenants
        .into_iter()
        .map(|t| Choice {
            selected: t.id == form.tenant,
            label: t.id.clone(),
            value: t.id,
        })
        .collect();
    // Global subscriptions are offered to whoever may make them (admins).
    if manage_allows(&session.principal, &ManageAction::ManageWebhooks(None)) {
        tenant_options.push(Choice {
            value: String::new(),
            label: "All tenants (global subscription)".into(),
            selected: form.tenant.is_empty() && form.error.is_some(),
        });
    }
    let events = EVENT_TYPES
        .iter()
        .map(|e| Choice {
            value: (*e).to_owned(),
            label: (*e).to_owned(),
            selected: form.events.iter().any(|chosen| chosen == e),
        })
        .collect();
    render(
        status,
        &WebhooksPage {
            chrome,
            notice,
            rows: webhooks.into_iter().map(Row::from).collect(),
            tenants: tenant_options,
            events,
            form,
            created,
        },
    )
}

/// `GET /ui/webhooks`.
pub(crate) async fn list(
    State(state): State<AppState>,
    session: UiSession,
    Query(query): Query<DoneQuery>,
) -> Response {
    page(
        &state,
        &session,
        StatusCode::OK,
        query.message(),
        CreateForm::default(),
        None,
    )
    .await
}

/// `POST /ui/webhooks`: creates a subscription and shows its secret once;
/// a refusal is shown on the form, with what was typed (but the secret).
pub(crate) async fn create(
    State(state): State<AppState>,
    session: UiSession,
    Form(fields): Form<Vec<(String, String)>>,
) -> Response {
    let fields = FormFields(fields);
    let new = NewWebhook {
        tenant: fields.optional("tenant"),
        url: fields.text("url").to_owned(),
        events: fields.all("events"),
        secret: fields.optional("secret"),
        description: fields.text("description").to_owned(),
    };
    let typed = CreateForm {
        tenant: new.tenant.clone().unwrap_or_default(),
        url: new.url.clone(),
        events: new.events.clone(),
        description: new.description.clone(),
        error: None,
    };
    match state
        .accounts
        .create_webhook(&session.operator, new, &session.request)
        .await
    {
        Ok(created) => {
            page(
                &state,
                &session,
                StatusCode::CREATED,
                None,
                CreateForm::default(),
                Some((created.webhook.url, created.secret)),
            )
            .await
        }
        Err(error) => {
            let status = error_status(&error);
            let form = CreateForm {
                error: Some(form_error(&error)),
                ..typed
            };
            page(&state, &session, status, None, form, None).await
        }
    }
}

/// `POST /ui/webhooks/{id}/delete`.
pub(crate) async fn delete(
    State(state): State<AppState>,
    session: UiSession,
    Path(id): Path<String>,
) -> Response {
    match state
        .accounts
        .delete_webhook(&session.operator, &id, &session.request)
        .await
    {
        Ok(()) => done("/ui/webhooks", "deleted"),
        Err(error) => error_page(&Chrome::of(&session, "/ui/webhooks"), &error),
    }
}

/// `POST /ui/webhooks/{id}/test`: queues a test event for this
/// subscription and shows its delivery log.
pub(crate) async fn send_test(
    State(state): State<AppState>,
    session: UiSession,
    Path(id): Path<String>,
) -> Response {
    match state
        .accounts
        .test_webhook(&session.operator, &id, &session.request)
        .await
    {
        Ok(_) => done(&log_href(&id), "tested"),
        Err(error) => error_page(&Chrome::of(&session, "/ui/webhooks"), &error),
    }
}

/// `POST /ui/webhooks/{id}/redeliver` with `event`: queues that event
/// again (for every subscription that had it, as the API does).
pub(crate) async fn redeliver(
    State(state): State<AppState>,
    session: UiSession,
    Path(id): Path<String>,
    Form(fields): Form<Vec<(String, String)>>,
) -> Response {
    let fields = FormFields(fields);
    let event = fields.text("event");
    if event.is_empty() {
        let error = AccountsError::Invalid("choose the event to deliver again".into());
        return error_page(&Chrome::of(&session, "/ui/webhooks"), &error);
    }
    match state
        .accounts
        .redeliver_event(&session.operator, event, &session.request)
        .await
    {
        Ok(_) => done(&log_href(&id), "redelivered"),
        Err(error) => error_page(&Chrome::of(&session, "/ui/webhooks"), &error),
    }
}

fn log_href(id: &str) -> String {
    format!("/ui/webhooks/{id}")
}

/// One attempt of a delivery, as the log shows it.
struct AttemptRow {
    number: u32,
    at: String,
    status: String,
    latency: String,
    error: String,
}

/// One delivery in the log.
struct DeliveryRow {
    event_id: String,
    event_type: String,
    subject: String,
    state: &'static str,
    queued: String,
    next_attempt: String,
    attempts: Vec<AttemptRow>,
}

impl From<DeliveryView> for DeliveryRow {
    fn from(d: DeliveryView) -> DeliveryRow {
        DeliveryRow {
            event_id: d.event_id,
            event_type: d.event_type,
            subject: d.subject,
            state: d.state,
            queued: show_time(d.created_at),
            next_attempt: d.next_attempt_at.map(show_time).unwrap_or_default(),
            attempts: d
                .log
                .into_iter()
                .map(|a| AttemptRow {
                    number: a.number,
                    at: show_time(a.at),
                    status: a.status.map(|s| s.to_string()).unwrap_or_default(),
                    latency: format!("{} ms", a.latency_ms),
                    error: a.error.unwrap_or_default(),
                })
                .collect(),
        }
    }
}

#[derive(Template)]
#[template(path = "webhook_deliveries.html")]
struct DeliveriesPage {
    chrome: Chrome,
    notice: Option<&'static str>,
    id: String,
    webhook: Option<Row>,
    deliveries: Vec<DeliveryRow>,
}

/// `GET /ui/webhooks/{id}`: the delivery log of one subscription.
pub(crate) async fn deliveries(
    State(state): State<AppState>,
    session: UiSession,
    Path(id): Path<String>,
    Query(query): Query<DoneQuery>,
) -> Response {
    let chrome = Chrome::of(&session, "/ui/webhooks");
    let deliveries = match state
        .accounts
        .webhook_deliveries(&session.operator, &id, LOG_SIZE)
        .await
    {
        Ok(deliveries) => deliveries,
        Err(error) => return error_page(&chrome, &error),
    };
    let webhook = match state.accounts.visible_webhooks(&session.operator).await {
        Ok(webhooks) => webhooks.into_iter().find(|w| w.id == id).map(Row::from),
        Err(error) => return error_page(&chrome, &error),
    };
    render(
        StatusCode::OK,
        &DeliveriesPage {
            chrome,
            notice: query.message(),
            id,
            webhook,
            deliveries: deliveries.into_iter().map(DeliveryRow::from).collect(),
        },
    )
}
